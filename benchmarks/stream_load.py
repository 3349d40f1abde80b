"""Where replaying a big stream goes: loading one recorded stream, llama-vcr vs vcrpy, by phase.

    python benchmarks/stream_load.py LLAMA_VCR_DIR VCRPY_CASSETTE [--runs 5]

``LLAMA_VCR_DIR``: the directory of llama-vcr recordings of one test (``run.py --only stream``
records one 100,000-chunk stream); ``VCRPY_CASSETTE``: vcrpy's YAML cassette of the same test.
``run.py --profile`` runs this on the stream group's recordings, in llama-vcr's environment.

Everything runs in this one process, alternated, CPU medians (``time.process_time``):

- **the baseline**: vcrpy's persister loading its cassette (``FilesystemPersister.load_cassette``
  with the YAML serializer: libyaml, the stream one string), then the body's bytes;
- **llama-vcr**: its persister loading the directory (reading, the strict parse, the checks,
  decoding), then the body's bytes (built lazily, on first use);
- **llama-vcr by phase**: reading the file, reading its chunk lines (``RecordingCodec.deserialize``
  with ``stream_lines``: ``format/stream_lines.read``, each chunk's data checked by jiter and kept
  as bytes), the checks and decoding (``RecordingCodec.decode``) with building the wire bytes;
  and, for comparison, the whole file read as any other file is (the strict parse:
  jiter, duplicate keys, ``NaN``, nesting depth), then decoded, as replay read a stream before;
- **parsers** on the same file, for what any check of every chunk at load must pay at least:
  ``json.loads`` (no checks at all), jiter alone (``catch_duplicate_keys``: what llama-vcr's
  parse starts with), and, when they are installed (llama-vcr does not need them), orjson,
  msgspec, and msgspec's syntax-only pass (``msgspec.Raw`` per chunk: the only one here that
  builds no object per chunk, and so the only one that cannot see a duplicate key or the
  nesting depth). The parsers run as they do by default: with Python's cyclic garbage
  collector on (llama-vcr's parse pauses it: see ``strict_json.collector_paused``).

Nothing is asserted; the ratios are against the baseline.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _llama_vcr_load(directory: Path) -> Callable[[], object]:
    import vcr

    import llama_vcr
    from llama_vcr._vcrpy import configure_vcr

    def load() -> object:
        persister = configure_vcr(vcr.VCR(record_mode="none"), llama_vcr.CODEC, None)
        _requests, responses = persister.load_cassette(str(directory), llama_vcr.CODEC)
        return [bytes(response["body"]["string"]) for response in responses]

    return load


def _vcrpy_load(cassette: Path) -> Callable[[], object]:
    from vcr.persisters.filesystem import FilesystemPersister
    from vcr.serializers import yamlserializer

    def load() -> object:
        _requests, responses = FilesystemPersister.load_cassette(cassette, yamlserializer)
        return [bytes(response["body"]["string"]) for response in responses]

    return load


def _phases(path: Path) -> dict[str, Callable[[], object]]:
    """llama-vcr's load of one file, phase by phase: each phase's input is made once, outside it."""
    import llama_vcr
    from llama_vcr._store import read_recording

    codec = llama_vcr.CODEC
    data = read_recording(path)
    document = codec.deserialize(data, stream_lines=True)
    whole = codec.deserialize(data)

    def wire(document: dict[str, Any]) -> object:
        _request, response = codec.decode(document)
        return bytes(response["body"]["string"])

    return {
        "  reading the file": lambda: read_recording(path),
        "  chunk lines (stream_lines.read)": lambda: codec.deserialize(data, stream_lines=True),
        "  checks + decoding + wire bytes": lambda: wire(document),
        "read whole (strict parse), as before": lambda: codec.deserialize(data),
        "  checks + decoding + wire bytes ": lambda: wire(whole),
    }


def _parsers(path: Path) -> dict[str, Callable[[], object]]:
    data = path.read_bytes()
    found: dict[str, Callable[[], object]] = {"json.loads (no checks)": lambda: json.loads(data)}
    try:
        import jiter

        found["jiter (duplicate keys refused)"] = lambda: jiter.from_json(
            data, allow_inf_nan=False, catch_duplicate_keys=True
        )
    except ImportError:
        pass
    try:
        import orjson

        found["orjson (no checks)"] = lambda: orjson.loads(data)
    except ImportError:
        pass
    try:
        import msgspec

        found["msgspec (no checks)"] = lambda: msgspec.json.decode(data)

        class Response(msgspec.Struct):
            body: list[msgspec.Raw]

        class Document(msgspec.Struct):
            response: Response

        raw = msgspec.json.Decoder(Document)
        found["msgspec.Raw chunks (syntax only)"] = lambda: raw.decode(data)
    except ImportError:
        pass
    return found


def _cpu(run: Callable[[], object]) -> float:
    gc.collect()
    start = time.process_time()
    result = run()
    spent = time.process_time() - start
    del result
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("llama_vcr_dir", type=Path)
    parser.add_argument("vcrpy_cassette", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    files = sorted(args.llama_vcr_dir.glob("*.json"))
    if len(files) != 1:  # (one test, one request)
        parser.error(f"expected one recording in {args.llama_vcr_dir}, found {len(files)}")
    candidates: dict[str, Callable[[], object]] = {
        "vcrpy: load + body bytes (baseline)": _vcrpy_load(args.vcrpy_cassette),
        "llama-vcr: load + body bytes": _llama_vcr_load(args.llama_vcr_dir),
        **_phases(files[0]),
        **_parsers(files[0]),
    }
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.runs):  # alternated: A B C ... A B C ...
        for name, run in candidates.items():
            times[name].append(_cpu(run))
    medians: dict[str, Any] = {name: statistics.median(values) for name, values in times.items()}
    baseline = medians["vcrpy: load + body bytes (baseline)"]
    size = files[0].stat().st_size / 2**20
    name = files[0].name[:16]
    print(f"\nWhere replaying a big stream goes: {name}... ({size:.1f} MiB), CPU medians of {args.runs}")
    print(f"  {'what':<40} {'CPU s':>7} {'/ vcrpy':>8}")
    for name, value in medians.items():
        print(f"  {name:<40} {value:>7.3f} {value / baseline:>7.1f}x")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
