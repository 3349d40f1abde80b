"""The persister: per-request files, atomic writes, numbering, stale files, vcrpy delegation."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest
import vcr

from llama_vcr import CODEC, RecordingError, RecordingPersister, recording_files, recording_name
from llama_vcr._store import recording_dir
from llama_vcr._vcrpy import configure_vcr
from tests.openai_server import FakeOpenAIServer

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
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    cassette = str(tmp_path / "t")
    with make_vcr("once").use_cassette(cassette):
        assert ask(openai_server.base_url, "a", "a", "b") == ["Echo: a", "Echo: a", "Echo: b"]
    files = recording_files(tmp_path / "t")
    assert len(files) == 3 and sum(p.name.endswith("-2.json") for p in files) == 1
    assert not list((tmp_path / "t").glob(".*"))  # no temporary files left behind
    for path in files:
        assert recording_name(json.loads(path.read_text())) == path.name
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    with make_vcr("new_episodes").use_cassette(cassette):
        ask(openai_server.base_url, "a", "a", "c")  # replays both "a", records "c"
    assert len(recording_files(tmp_path / "t")) == 4
    assert {p: p.stat().st_mtime_ns for p in files} == mtimes


def test_all_mode_removes_recordings_that_were_replaced(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    cassette = str(tmp_path / "t")
    with make_vcr("once").use_cassette(cassette):
        ask(openai_server.base_url, "a", "a")
    with make_vcr("all").use_cassette(cassette):
        ask(openai_server.base_url, "a")
    [only] = recording_files(tmp_path / "t")
    assert "-" not in only.stem


def test_load_returns_requests_and_responses_only(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    with make_vcr("once").use_cassette(str(tmp_path / "t")):
        ask(openai_server.base_url, "a")
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
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    recorder = make_vcr("once")
    with recorder.use_cassette(str(tmp_path / "t.yaml"), serializer="yaml"):
        ask(openai_server.base_url, "a")
    assert (tmp_path / "t.yaml").read_text().startswith("interactions:")
    with make_vcr("none").use_cassette(str(tmp_path / "t.yaml"), serializer="yaml"):
        assert ask(openai_server.base_url, "a") == ["Echo: a"]
