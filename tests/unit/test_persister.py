"""The persister: per-request files, atomic writes, numbering, stale files, vcrpy delegation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
import vcr
from vcr.request import Request

from llama_vcr import CODEC, RecordingError, RecordingPersister, recording_files, recording_name
from llama_vcr._store import recording_dir
from llama_vcr._vcrpy import configure_vcr
from tests.fakes.server import FakeProviderServer
from tests.unit.edge_support import EDGE_OFFLINE, edge_vcr

TEST_ID = "tests/test_persister.py::t"


def make_vcr(mode: str, **kwargs: object) -> vcr.VCR:
    recorder = vcr.VCR(record_mode=mode)
    configure_vcr(recorder, CODEC, TEST_ID, **kwargs)  # type: ignore[arg-type]
    return recorder


def ask(server_url: str, *prompts: str) -> list[str]:
    client = openai.OpenAI(base_url=server_url, api_key="sk-persister-secret", max_retries=0)
    replies = [
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": p}]) for p in prompts
    ]
    return [reply.choices[0].message.content or "" for reply in replies]


def test_recording_dir_strips_the_suffix_pytest_recording_adds() -> None:
    assert recording_dir("c/test_x.llama_vcr") == Path("c/test_x")
    assert recording_dir("c/Test.test_x.yaml") == Path("c/Test.test_x")
    assert recording_dir("c/Test.test_x") == Path("c/Test.test_x")


def test_files_are_numbered_in_order_and_unchanged_files_are_not_rewritten(
    provider_server: FakeProviderServer, tmp_path: Path
) -> None:
    cassette = str(tmp_path / "t")
    with make_vcr("once").use_cassette(cassette):
        assert ask(provider_server.base_url, "a", "a", "b") == ["Echo: a", "Echo: a", "Echo: b"]
    files = recording_files(tmp_path / "t")
    assert len(files) == 3 and sum(p.name.endswith("-2.json") for p in files) == 1
    assert not list((tmp_path / "t").glob(".*"))  # no temporary files left behind
    for path in files:
        assert recording_name(json.loads(path.read_text())) == path.name
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    with make_vcr("new_episodes").use_cassette(cassette):
        ask(provider_server.base_url, "a", "a", "c")  # replays both "a", records "c"
    assert len(recording_files(tmp_path / "t")) == 4
    assert {p: p.stat().st_mtime_ns for p in files} == mtimes


def test_all_mode_removes_recordings_that_were_replaced(
    provider_server: FakeProviderServer, tmp_path: Path
) -> None:
    cassette = str(tmp_path / "t")
    with make_vcr("once").use_cassette(cassette):
        ask(provider_server.base_url, "a", "a")
    with make_vcr("all").use_cassette(cassette):
        ask(provider_server.base_url, "a")
    [only] = recording_files(tmp_path / "t")
    assert "-" not in only.stem


def test_load_returns_requests_and_responses_only(
    provider_server: FakeProviderServer, tmp_path: Path
) -> None:
    with make_vcr("once").use_cassette(str(tmp_path / "t")):
        ask(provider_server.base_url, "a")
    loaded = RecordingPersister(CODEC).load_cassette(str(tmp_path / "t.llama_vcr"), CODEC)
    assert len(loaded) == 2  # pytest-recording breaks on vcrpy 9's optional third "metadata" value


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "the file is empty"),
        (b"{not json", "Expecting property name"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "no 'request' object"),
        (b'{"request": {}, "response": {}}', "not an HTTP recording"),
        (
            b'{"test_id": null, "request": {"method": "GET", "url": "http://h/v1/models", "headers": {},'
            b' "body": null, "endpoint": "/v1/models", "model": null}, "response": {"is_streaming": true,'
            b' "body": {"a": 1}}}',
            "a streaming response's 'body' must be a list",
        ),
        (
            b'{"test_id": null, "request": {"method": "GET", "url": "http://h/v1/models", "headers": {},'
            b' "body": null, "endpoint": "/v1/models", "model": null}, "response": {"is_streaming": false,'
            b' "body": {"__type__": "openai.types.NoSuchThing", "__data__": {}}}}',
            "unknown __type__ 'openai.types.NoSuchThing'",
        ),
    ],
)
def test_unreadable_recordings_name_the_file(tmp_path: Path, content: bytes, problem: str) -> None:
    bad = tmp_path / "t" / ("0" * 64 + ".json")
    bad.parent.mkdir()
    bad.write_bytes(content)
    with pytest.raises(RecordingError) as info, make_vcr("once").use_cassette(str(tmp_path / "t")):
        pass
    assert str(bad) in str(info.value) and problem in str(info.value)
    assert bad.read_bytes() == content


def test_a_directory_where_a_recording_should_be_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "t" / ("0" * 64 + ".json")).mkdir(parents=True)
    with (
        pytest.raises(RecordingError, match="Is a directory"),
        make_vcr("none").use_cassette(str(tmp_path / "t")),
    ):
        pass


def test_an_envelope_of_an_sdk_that_is_not_installed_still_replays(tmp_path: Path) -> None:
    document = {
        "test_id": None,
        "request": {
            "method": "GET",
            "url": "http://h/api/tags",
            "headers": {},
            "body": None,
            "endpoint": "/api/tags",
            "model": None,
        },
        "response": {
            "is_streaming": False,
            "body": {"__type__": "llama_stack_client.types.Tags", "__data__": {"a": 1}},
        },
    }
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / recording_name(document)).write_text(json.dumps(document))
    _, responses = RecordingPersister(CODEC).load_cassette(str(tmp_path / "t"), CODEC)
    assert json.loads(responses[0]["body"]["string"]) == {"a": 1}


def test_a_plain_vcrpy_serializer_is_delegated_to_vcrpy(
    provider_server: FakeProviderServer, tmp_path: Path
) -> None:
    recorder = make_vcr("once")
    with recorder.use_cassette(str(tmp_path / "t.yaml"), serializer="yaml"):
        ask(provider_server.base_url, "a")
    assert (tmp_path / "t.yaml").read_text().startswith("interactions:")
    with make_vcr("none").use_cassette(str(tmp_path / "t.yaml"), serializer="yaml"):
        assert ask(provider_server.base_url, "a") == ["Echo: a"]


# --- edge cases found in review: each once lost data, crashed, or broke replay ---


def test_vcrpy_save_and_load_hooks_still_work(tmp_path: Path) -> None:
    def scrub(request: object, response: dict) -> tuple[object, dict]:
        response["body"]["string"] = response["body"]["string"].replace(b"Echo", b"ECHO")
        return request, response

    cassette = str(tmp_path / "t")
    with (
        FakeProviderServer() as server,
        edge_vcr("once").use_cassette(
            cassette, before_save_interaction=scrub, filter_sensitive_data=[("<P>", "hello")]
        ),
    ):
        openai.OpenAI(base_url=server.base_url, api_key="sk-x").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hello"}]
        )
    [path] = recording_files(tmp_path / "t")
    text = path.read_text()
    assert "ECHO: <P>" in text and "Echo" not in text  # the hooks' changes reached the file
    with edge_vcr("none").use_cassette(cassette, filter_sensitive_data=[("<P>", "hello")]):
        reply = openai.OpenAI(base_url=EDGE_OFFLINE, api_key="sk-x").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hello"}]
        )
    assert reply.choices[0].message.content == "ECHO: hello"


def test_rewrite_of_a_test_that_sends_nothing_removes_its_recordings(tmp_path: Path) -> None:
    cassette = str(tmp_path / "t")
    with FakeProviderServer() as server, edge_vcr("once").use_cassette(cassette):
        openai.OpenAI(base_url=server.base_url, api_key="sk-x").models.list()
    assert recording_files(tmp_path / "t")
    with edge_vcr("new_episodes", rewrite=True).use_cassette(cassette):
        pass
    assert recording_files(tmp_path / "t") == []


def test_unused_ignores_plain_vcrpy_interactions() -> None:
    from types import SimpleNamespace

    cassette = SimpleNamespace(
        data=[(Request("GET", "http://h/", None, {}), {"status": {"code": 200}})],
        _loaded_count=1,
        play_counts={},
    )
    persister = RecordingPersister(CODEC)
    persister.attach(cassette)
    assert persister.unused() == []


def test_a_replay_miss_does_no_file_io(provider_server: FakeProviderServer, tmp_path: Path) -> None:
    """An async SDK call that misses must not block its event loop on the file system (a
    blocking-call detector would turn the miss into another error, which the SDK then retries)."""
    import sys

    from llama_vcr import RecordingNotFound

    cassette = str(tmp_path / "t")
    with make_vcr("once").use_cassette(cassette):
        ask(provider_server.base_url, "a")
    events: list[str] = []
    watching = False

    def hook(event: str, args: tuple[object, ...]) -> None:
        if watching and (event == "open" or event.startswith(("os.", "shutil.", "glob."))):
            events.append(event)

    sys.addaudithook(hook)  # (audit hooks cannot be removed: this one is idle outside the block)
    with make_vcr("none").use_cassette(cassette):
        client = openai.OpenAI(base_url=EDGE_OFFLINE, api_key="sk-x", max_retries=0)
        watching = True
        try:
            with pytest.raises(RecordingNotFound, match="no recording matches"):
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": "b"}])
        finally:
            watching = False
    assert events == []


def _stream(base_url: str, prompt: str = "COUNT 30") -> int:
    client = openai.OpenAI(base_url=base_url, api_key="sk-x", max_retries=0)
    chunks = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": prompt}], stream=True
    )
    return sum(1 for _ in chunks)


@pytest.mark.parametrize("mode", ["once", "all"])
def test_a_recorded_stream_keeps_the_bytes_the_server_sent_in_vcrpys_response(
    provider_server: FakeProviderServer, tmp_path: Path, mode: str
) -> None:
    """vcrpy's recorded response (what ``before_record_response`` hooks and ``cassette.responses``
    see) keeps the live body, with the live ids; only the file holds stable ones."""
    seen: list[dict[str, Any]] = []

    def keep(response: dict[str, Any]) -> dict[str, Any]:
        seen.append(response)
        return response

    cassette = str(tmp_path / "t")
    client = openai.OpenAI(base_url=provider_server.base_url, api_key="sk-x", max_retries=0)
    with make_vcr(mode).use_cassette(cassette, before_record_response=keep) as recording:
        chunks = list(
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "COUNT 3"}], stream=True
            )
        )
        assert recording.responses[0] is seen[0]
    assert not chunks[0].id.startswith("rec-")
    assert chunks[0].id.encode() in seen[0]["body"]["string"]
    [path] = recording_files(tmp_path / "t")
    assert chunks[0].id not in path.read_text()


def test_a_recorded_stream_keeps_its_wire_bytes_where_they_may_still_be_used(
    provider_server: FakeProviderServer, tmp_path: Path
) -> None:
    """A cassette that replays what it records (new_episodes over existing recordings, playback
    repeats) and save hooks (they edit the raw response) keep the body as it arrived."""
    cassette = str(tmp_path / "t")
    with make_vcr("once").use_cassette(cassette):
        ask(provider_server.base_url, "a")
    cases: list[tuple[str, dict[str, object]]] = [
        ("new_episodes", {}),
        ("once", {"allow_playback_repeats": True}),
        ("once", {"before_save_interaction": lambda request, response: (request, response)}),
    ]
    for index, (mode, options) in enumerate(cases):
        where = cassette if mode == "new_episodes" else str(tmp_path / f"fresh-{index}")
        with make_vcr(mode).use_cassette(where, **options) as recording:
            _stream(provider_server.base_url)
            body = recording.data[-1][1]["body"]
            assert type(body) is dict and body["string"].startswith(b"data: "), (mode, options)
