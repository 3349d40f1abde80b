"""Edge cases found in review: each once lost data, crashed, or broke replay."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import vcr
from vcr.request import Request

from llama_vcr import CODEC, RecordingPersister, recording_files
from llama_vcr._canonical import Canonicalizer, canonical_request
from llama_vcr._normalize import IdMap
from llama_vcr._vcrpy import configure_vcr
from tests.openai_server import FakeOpenAIServer

OFFLINE = "http://127.0.0.1:9/v1"


def make_vcr(mode: str, **kwargs: object) -> vcr.VCR:
    recorder = vcr.VCR(record_mode=mode)
    configure_vcr(recorder, CODEC, "tests/test_edge_cases.py::t", **kwargs)  # type: ignore[arg-type]
    return recorder


def _response(body: bytes, content_type: str) -> dict:
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": [content_type]},
        "body": {"string": body},
    }


def test_unicode_line_separators_inside_json_do_not_split_stream_events() -> None:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "one\u2028two\u0085three"}, "finish_reason": None}],
    }
    sse = ("data: " + json.dumps(chunk, ensure_ascii=False) + "\n\ndata: [DONE]\n\n").encode()
    request = Request("POST", "http://h/v1/chat/completions", b'{"stream": true}', {})
    document = CODEC.encode(request, _response(sse, "text/event-stream"), None)
    [stored] = document["response"]["body"]
    assert stored["__data__"]["choices"][0]["delta"]["content"] == "one\u2028two\u0085three"
    ndjson = (json.dumps({"a": "x\u2029y"}, ensure_ascii=False) + "\n").encode()
    document = CODEC.encode(request, _response(ndjson, "application/x-ndjson"), None)
    assert document["response"]["body"] == [{"a": "x\u2029y"}]


def test_a_stream_that_is_not_utf8_is_kept_as_bytes() -> None:
    request = Request("POST", "http://h/v1/chat/completions", b"{}", {})
    data = b"data: \xff\xfe\n\n"
    document = CODEC.encode(request, _response(data, "text/event-stream"), None)
    assert set(document["response"]["body"]) == {"__bytes__"}
    _, replayed = CODEC.decode(document)
    assert replayed["body"]["string"] == data


def test_ids_sent_back_in_a_query_string_are_mapped() -> None:
    ids = IdMap()
    ids.add("file-live123", "rec-aaaaaaaaaaaa")
    live = canonical_request(
        Request("GET", "http://h/v1/files?after=file-live123&limit=2", None, {}), Canonicalizer(), ids
    )
    replay = canonical_request(
        Request("GET", "http://h/v1/files?limit=2&after=rec-aaaaaaaaaaaa", None, {}), Canonicalizer(), ids
    )
    assert live.query == replay.query and "file-live123" not in live.url


def test_model_listings_keep_their_ids_even_untyped() -> None:
    listing = {
        "data": [{"id": "claude-sonnet-4-5", "type": "model", "display_name": "Claude"}],
        "has_more": False,
    }
    request = Request("GET", "http://h/v1/models", None, {})
    document = CODEC.encode(request, _response(json.dumps(listing).encode(), "application/json"), None)
    assert document["response"]["body"]["data"][0]["id"] == "claude-sonnet-4-5"


def test_values_the_test_sent_earlier_are_never_turned_into_ids() -> None:
    ids = IdMap()
    first = Request(
        "POST", "http://h/v1/responses", json.dumps({"metadata": {"session_id": "sess-42"}}).encode(), {}
    )
    CODEC.encode(first, _response(b'{"id": "resp_1"}', "application/json"), None, ids=ids)
    echo = Request("GET", "http://h/v1/responses/resp_1", None, {})
    body = json.dumps({"id": "resp_1", "metadata": {"session_id": "sess-42"}}).encode()
    document = CODEC.encode(echo, _response(body, "application/json"), None, ids=ids)
    assert document["response"]["body"]["metadata"]["session_id"] == "sess-42"


def test_vcrpy_save_and_load_hooks_still_work(tmp_path: Path) -> None:
    def scrub(request: object, response: dict) -> tuple[object, dict]:
        response["body"]["string"] = response["body"]["string"].replace(b"Echo", b"ECHO")
        return request, response

    cassette = str(tmp_path / "t")
    with (
        FakeOpenAIServer() as server,
        make_vcr("once").use_cassette(
            cassette, before_save_interaction=scrub, filter_sensitive_data=[("<P>", "hello")]
        ),
    ):
        openai.OpenAI(base_url=server.base_url, api_key="sk-x").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hello"}]
        )
    [path] = recording_files(tmp_path / "t")
    text = path.read_text()
    assert "ECHO: <P>" in text and "Echo" not in text  # the hooks' changes reached the file
    with make_vcr("none").use_cassette(cassette, filter_sensitive_data=[("<P>", "hello")]):
        reply = openai.OpenAI(base_url=OFFLINE, api_key="sk-x").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hello"}]
        )
    assert reply.choices[0].message.content == "ECHO: hello"


def test_rewrite_of_a_test_that_sends_nothing_removes_its_recordings(tmp_path: Path) -> None:
    cassette = str(tmp_path / "t")
    with FakeOpenAIServer() as server, make_vcr("once").use_cassette(cassette):
        openai.OpenAI(base_url=server.base_url, api_key="sk-x").models.list()
    assert recording_files(tmp_path / "t")
    with make_vcr("new_episodes", rewrite=True).use_cassette(cassette):
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
