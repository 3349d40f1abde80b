"""Lookup cost as one test's directory grows from 10 to 1,000 recordings: must stay flat.

Each size gets a directory of N chat recordings; the cassette is loaded once, then every
recording is looked up and played (vcrpy's ``play_response``), and the time per lookup is
reported, with vcrpy's own linear scan (the same cassette matched by running the matchers
against every recording) alongside for comparison.

    python benchmarks/bench_lookup.py [--sizes 10,100,1000]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import vcr
from _suite import interaction, llama_vcr_recorder
from vcr.cassette import Cassette

from llama_vcr import CODEC, RecordingPersister


def lookups(cassette: Cassette, requests: list, linear: bool) -> float:
    cassette.rewind()
    responses = type(cassette)._responses
    if linear:  # vcrpy's own lookup: every matcher against every recording
        type(cassette)._responses = Cassette._responses
    try:
        start = time.perf_counter()
        for request in requests:
            cassette.play_response(request)
        return (time.perf_counter() - start) / len(requests)
    finally:
        type(cassette)._responses = responses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    args = parser.parse_args()
    print(f"{'recordings':>10} {'load ms':>9} {'lookup us (indexed)':>20} {'lookup us (vcrpy scan)':>23}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(size) for size in args.sizes.split(",")):
            pairs = [interaction(f"question {i}", stream=False, size=10) for i in range(n)]
            path = str(Path(tmp) / f"dir_{n}")
            RecordingPersister(CODEC, test_id="bench::lookup").save_cassette(
                path, {"requests": [r for r, _ in pairs], "responses": [s for _, s in pairs]}, CODEC
            )
            recorder: vcr.VCR = llama_vcr_recorder()
            start = time.perf_counter()
            with recorder.use_cassette(path) as cassette:
                load = time.perf_counter() - start
                live = [copy.deepcopy(request) for request, _ in pairs]
                indexed = lookups(cassette, live, linear=False)
                scan = lookups(cassette, live[: min(n, 200)], linear=True)
            print(f"{n:>10} {load * 1e3:>9.1f} {indexed * 1e6:>20.1f} {scan * 1e6:>23.1f}")


if __name__ == "__main__":
    main()
