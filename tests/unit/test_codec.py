"""The recording format codec: vcrpy interaction <-> document, and back to wire bytes."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vcr.request import Request

from llama_vcr import CODEC, RecordingCodec, recording_name
from llama_vcr._normalize import Normalizer
from tests.unit.edge_support import edge_response

#: A codec that keeps responses verbatim (normalisation has its own tests).
VERBATIM = RecordingCodec(normalizer=Normalizer({}, map_ids=False))

URL = "http://127.0.0.1:5000/v1/chat/completions?api-key=sekrit"
HEADERS = {"Authorization": "Bearer sk-secret", "Content-Type": "application/json", "X-Stainless-Os": "Linux"}


def _chunk(text: str | None) -> dict:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }


def _response(body: bytes, content_type: str, status: int = 200, **headers: str) -> dict:
    all_headers = {
        "Content-Type": [content_type],
        "Set-Cookie": ["s=1"],
        **{k: [v] for k, v in headers.items()},
    }
    return {"status": {"code": status, "message": "OK"}, "headers": all_headers, "body": {"string": body}}


def _request(body: dict) -> Request:
    return Request("POST", URL, json.dumps(body).encode(), HEADERS)


def test_streams_become_one_envelope_per_event() -> None:
    sse = (
        b"".join(b"data: " + json.dumps(_chunk(t)).encode() + b"\n\n" for t in ["Hel", "lo"])
        + b"data: [DONE]\n\n"
    )
    doc = VERBATIM.encode(
        _request({"model": "gpt-4o", "stream": True}), _response(sse, "text/event-stream"), "t::x"
    )
    response = doc["response"]
    assert response["is_streaming"] is True and response["sse_done"] is True
    assert [c["__type__"] for c in response["body"]] == [
        "openai.types.chat.chat_completion_chunk.ChatCompletionChunk"
    ] * 2
    assert [c["__data__"] for c in response["body"]] == [_chunk("Hel"), _chunk("lo")]
    assert doc["request"]["model"] == "gpt-4o" and doc["request"]["endpoint"] == "/v1/chat/completions"
    _, replay = CODEC.decode(doc)
    events = [e for e in replay["body"]["string"].split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    assert [json.loads(e[6:]) for e in events[:-1]] == [_chunk("Hel"), _chunk("lo")]


def test_secrets_are_not_in_the_document() -> None:
    doc = CODEC.encode(_request({"model": "m"}), _response(b"{}", "application/json"), "t::x")
    text = CODEC.serialize(doc)
    assert "sk-secret" not in text and "sekrit" not in text and "s=1" not in text
    assert doc["request"]["headers"] == {"content-type": "application/json"}
    assert doc["response"]["headers"] == {"content-type": "application/json"}


def test_event_names_are_kept_and_replayed() -> None:
    sse = b'event: message_start\ndata: {"type": "message_start"}\n\nevent: ping\ndata: {"type": "ping"}\n\n'
    doc = CODEC.encode(_request({}), _response(sse, "text/event-stream"), None)
    assert [c["__event__"] for c in doc["response"]["body"]] == ["message_start", "ping"]
    assert doc["response"]["sse_done"] is False
    _, replay = CODEC.decode(doc)
    assert replay["body"]["string"].startswith(b'event: message_start\ndata: {"type":"message_start"}\n\n')
    assert b"[DONE]" not in replay["body"]["string"]


def test_gzip_responses_are_stored_decoded() -> None:
    payload = {"object": "list", "data": [{"id": "gpt-4o", "object": "model", "created": 0, "owned_by": "o"}]}
    response = _response(
        gzip.compress(json.dumps(payload).encode()), "application/json", **{"Content-Encoding": "gzip"}
    )
    doc = CODEC.encode(Request("GET", "http://h/v1/models", None, {}), response, None)
    assert doc["response"]["body"]["data"][0]["__type__"] == "openai.types.model.Model"
    assert "content-encoding" not in doc["response"]["headers"]
    _, replay = CODEC.decode(doc)
    assert json.loads(replay["body"]["string"]) == payload


def test_errors_keep_status_and_plain_json() -> None:
    error = {"error": {"message": "Rate limit", "type": "rate_limit_error", "code": None, "param": None}}
    response = _response(json.dumps(error).encode(), "application/json", 429, **{"Retry-After": "0"})
    doc = CODEC.encode(_request({"model": "m"}), response, None)
    assert doc["response"]["status"] == 429 and doc["response"]["body"] == error
    assert doc["response"]["headers"]["retry-after"] == "0"
    _, replay = CODEC.decode(doc)
    assert replay["status"]["code"] == 429


@given(st.binary(max_size=64))
def test_any_body_replays_byte_exact(body: bytes) -> None:
    doc = CODEC.encode(_request({}), _response(body, "application/octet-stream"), None)
    _, replay = CODEC.decode(CODEC.deserialize(CODEC.serialize(doc)))
    assert replay["body"]["string"] == body


@given(st.text(max_size=40))
def test_text_bodies_replay_exactly(text: str) -> None:
    doc = CODEC.encode(_request({}), _response(text.encode(), "text/plain"), None)
    _, replay = CODEC.decode(doc)
    assert replay["body"]["string"] == text.encode()


def test_document_round_trip_keeps_the_name() -> None:
    doc = CODEC.encode(
        _request({"model": "m", "temperature": 0.70000001}), _response(b"{}", "application/json"), "t"
    )
    assert doc["request"]["body"]["temperature"] == 0.70000001  # stored as sent; named as llama-stack does
    request, _ = CODEC.decode(CODEC.deserialize(CODEC.serialize(doc)))
    again = CODEC.encode(request, _response(b"{}", "application/json"), "t")
    assert recording_name(again) == recording_name(doc)


# --- edge cases found in review: each once lost data, crashed, or broke replay ---


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
    document = CODEC.encode(request, edge_response(sse, "text/event-stream"), None)
    [stored] = document["response"]["body"]
    assert stored["__data__"]["choices"][0]["delta"]["content"] == "one\u2028two\u0085three"
    ndjson = (json.dumps({"a": "x\u2029y"}, ensure_ascii=False) + "\n").encode()
    document = CODEC.encode(request, edge_response(ndjson, "application/x-ndjson"), None)
    # a line reader (httpx iter_lines, Ollama's client) splits at a raw U+2029: kept byte for byte
    assert document["response"]["body"] == {"__text__": ndjson.decode()}
    assert CODEC.decode(document)[1]["body"]["string"] == ndjson


def test_a_stream_that_is_not_utf8_is_kept_as_bytes() -> None:
    request = Request("POST", "http://h/v1/chat/completions", b"{}", {})
    data = b"data: \xff\xfe\n\n"
    document = CODEC.encode(request, edge_response(data, "text/event-stream"), None)
    assert set(document["response"]["body"]) == {"__bytes__"}
    _, replayed = CODEC.decode(document)
    assert replayed["body"]["string"] == data


def test_bodies_a_recording_cannot_hold_as_json_are_kept_as_text_and_replay_byte_for_byte() -> None:
    """-Infinity (vLLM logprobs) and half an emoji are valid on the wire but not in a strict UTF-8
    JSON file: they are stored as text, so what is written loads again and replays the same bytes."""
    request = Request("POST", "http://h/v1/chat/completions", b'{"model": "m"}', {})
    bodies = [
        (b'{"id": "x", "logprob": -Infinity}', "application/json"),
        (b'{"id": "x", "content": "hi \\ud83d"}', "application/json"),
        (b'data: {"id": "x", "logprob": NaN}\n\ndata: [DONE]\n\n', "text/event-stream"),
        (b'{"content": "half \\ud83d"}\n{"content":"ok"}\n', "application/x-ndjson"),  # (compact JSON)
    ]
    for wire, content_type in bodies:
        document = CODEC.encode(request, edge_response(wire, content_type), "t.py::t")
        text = CODEC.serialize(document)
        text.encode("utf-8")  # the file is UTF-8
        loaded = CODEC.deserialize(text)  # and strict JSON: it loads again
        _, replayed = CODEC.decode(loaded)
        assert replayed["body"]["string"].rstrip(b"\n") == wire.rstrip(b"\n"), content_type


def test_a_request_with_half_an_emoji_is_written_as_utf8() -> None:
    request = Request("POST", "http://h/v1/chat/completions", b'{"prompt": "half \\ud83d"}', {})
    document = CODEC.encode(request, edge_response(b'{"ok": true}', "application/json"), "t.py::t")
    text = CODEC.serialize(document)
    text.encode("utf-8")
    assert CODEC.deserialize(text)["request"]["body"] == {"prompt": "half \ud83d"}


@given(
    st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    st.sampled_from(["gzip", "deflate", "raw"]),
)
def test_a_compressed_body_decodes_and_one_a_client_already_decoded_is_kept(data: bytes, coding: str) -> None:
    """aiohttp (and urllib3 2) hand vcrpy the decoded body under the original Content-Encoding."""
    import zlib

    from llama_vcr.format.wire import content_decoded

    if coding == "gzip":
        compressed = zlib.compress(data, wbits=16 + zlib.MAX_WBITS)
    elif coding == "deflate":
        compressed = zlib.compress(data)
    else:
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        compressed = packer.compress(data) + packer.flush()
    header = "gzip" if coding == "gzip" else "deflate"
    assert content_decoded(compressed, header) == data
    text = json.dumps({"content": data.decode("latin-1")}).encode("utf-8")
    assert content_decoded(text, header) == text


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity"])
def test_what_strict_json_cannot_hold_is_stored_as_text_and_loads(number: str) -> None:
    """A response or request number strict JSON cannot write back (a recording is strict JSON) is
    stored as the text that was sent, so the file loads and replays byte for byte."""
    from vcr.request import Request

    from llama_vcr.format.strict_json import parse

    text = '{"model": "m", "temperature": ' + number + "}"
    request = Request("POST", "https://api.openai.com/v1/embeddings", text.encode(), {})
    response = {
        "status": {"code": 200},
        "headers": {"content-type": ["application/json"]},
        "body": {"string": text.encode()},
    }
    document = CODEC.encode(request, response, "t.py::t")
    assert document["request"]["body"] == text
    assert document["response"]["body"] == {"__text__": text}
    _, replayed = CODEC.decode(parse(CODEC.serialize(document)))
    assert replayed["body"]["string"] == text.encode()
