"""Helpers shared by the provider tests (tests/providers/test_*.py).

They drive vcrpy directly (no inner pytest run): record a scenario with the real SDK against the
local fake server, then replay it with no server at all, and compare what the SDK returned.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import vcr
from vcr.cassette import Cassette

from llama_vcr import CODEC, recording_files, recording_name
from llama_vcr._vcrpy import configure_vcr
from tests.fakes.server import FakeProviderServer

TEST_ID = "tests/test_providers.py::t"
#: A root URL nothing listens on: replay must never connect (matching ignores host and port).
OFFLINE_URL = "http://127.0.0.1:9"
API_KEY = "sk-providers-test-0123456789abcdef"

#: Response fields recordings normalise on purpose (docs/recording-format.md), besides ``*_id``.
NORMALISED = frozenset(
    {
        "id",
        "created",
        "created_at",
        "completed_at",
        "expires_at",
        "system_fingerprint",
        "obfuscation",
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    }
)


def masked(value: Any) -> Any:
    """``value`` (plain data) with the fields recordings normalise on purpose masked."""
    if isinstance(value, (list, tuple)):
        return [masked(item) for item in value]
    if not isinstance(value, dict) or value.get("object") == "model":
        return value
    return {
        key: "<normalised>"
        if (key in NORMALISED or key.endswith("_id")) and item is not None
        else masked(item)
        for key, item in value.items()
    }


def dumped(objects: Any) -> Any:
    """SDK objects (and lists of them) as plain data."""
    if isinstance(objects, list):
        return [dumped(item) for item in objects]
    dump = getattr(objects, "model_dump", None)
    return dump() if dump is not None else objects


def make_vcr(mode: str) -> vcr.VCR:
    recorder = vcr.VCR(record_mode=mode)
    configure_vcr(recorder, CODEC, TEST_ID)
    return recorder


@contextlib.contextmanager
def cassette(directory: Path, mode: str) -> Iterator[Cassette]:
    with make_vcr(mode).use_cassette(str(directory)) as cass:
        yield cass


def documents(directory: Path, schema: Any) -> list[dict[str, Any]]:
    """The recordings of ``directory``, in replay order; each checked against the schema and its name."""
    out = []
    for path in recording_files(directory):
        document = json.loads(path.read_text(encoding="utf-8"))
        schema.validate(document)
        assert recording_name(document) == path.name
        assert API_KEY not in path.read_text(encoding="utf-8")
        out.append(document)
    assert out, f"nothing was recorded in {directory}"
    return out


def by_endpoint(docs: list[dict[str, Any]], endpoint: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["request"]["endpoint"].endswith(endpoint)]


@dataclass
class Run:
    """What one scenario gave while recording (``live``) and while replaying (``replayed``)."""

    live: Any
    replayed: Any
    docs: list[dict[str, Any]]
    directory: Path
    hits: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def record_then_replay(
    directory: Path,
    scenario: Callable[[str], Any],
    schema: Any,
    **server: Any,
) -> Run:
    """Record ``scenario(root_url)`` against a fresh local server, then replay it offline with no
    miss and every recording played."""
    with FakeProviderServer(**server) as live_server, cassette(directory, "once"):
        live = scenario(live_server.url)
    docs = documents(directory, schema)
    before = {p: p.read_bytes() for p in recording_files(directory)}
    with cassette(directory, "none") as cass:
        replayed = scenario(OFFLINE_URL)
        assert cass.all_played, "some recordings were not replayed"
    assert {p: p.read_bytes() for p in recording_files(directory)} == before, "replay wrote files"
    return Run(live, replayed, docs, directory, len(live_server.hits))


async def arecord_then_replay(
    directory: Path,
    scenario: Callable[[str], Awaitable[Any]],
    schema: Any,
    **server: Any,
) -> Run:
    """:func:`record_then_replay` for an async scenario."""
    with FakeProviderServer(**server) as live_server, cassette(directory, "once"):
        live = await scenario(live_server.url)
    docs = documents(directory, schema)
    with cassette(directory, "none") as cass:
        replayed = await scenario(OFFLINE_URL)
        assert cass.all_played, "some recordings were not replayed"
    return Run(live, replayed, docs, directory, len(live_server.hits))


def assert_same_objects(run: Run) -> None:
    """Replayed objects equal the live ones (same classes, same dumps once normalised fields are
    masked), and normalisation really happened somewhere."""
    live, replayed = run.live, run.replayed
    assert [type(o) for o in _flat(replayed)] == [type(o) for o in _flat(live)]
    assert masked(dumped(replayed)) == masked(dumped(live))


def _flat(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


def sse_events(raw: bytes) -> list[tuple[str | None, Any]]:
    """``(event name, parsed data)`` of each Server-Sent Event of a raw stream body."""
    events: list[tuple[str | None, Any]] = []
    for block in raw.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            text = "\n".join(data)
            events.append((name, text if text == "[DONE]" else json.loads(text)))
    return events


def decoded_body(document: dict[str, Any]) -> bytes:
    """The bytes replay serves for a recording (through the public codec)."""
    _, response = CODEC.decode(document)
    return bytes(response["body"]["string"])


def record_with_vcrpy(
    pytester: pytest.Pytester,
    server: FakeProviderServer,
    monkeypatch: pytest.MonkeyPatch,
    *,
    passed: int = 1,
    **files: str,
) -> None:
    """Record the pytester suite (``files``: module name -> source, added first) with vcrpy and
    pytest-recording alone (llama-vcr disabled), as an existing suite has its cassettes; its
    ``passed`` tests must pass, and the server then forgets what it was sent."""
    if files:
        pytester.makepyfile(**files)
    monkeypatch.setenv("LLAMA_VCR_TEST_BASE_URL", server.base_url)
    result = pytester.runpytest("-p", "no:llama_vcr", "-p", "no:cacheprovider", "--record-mode=once")
    result.assert_outcomes(passed=passed)
    server.reset()
