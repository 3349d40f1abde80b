"""The stored ``response.transport_error`` of a body a transport error cut short: how the codec
writes and reads it, and that a bad one fails to load naming the file and the field."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
import vcr
from vcr.request import Request

from llama_vcr import CODEC, RecordingError, recording_name
from llama_vcr._vcrpy import configure_vcr
from llama_vcr.format.transport import TRANSPORT_ERROR_TYPES, whole_frames
from llama_vcr.format.wire import RecordingFormatError

TEST_ID = "tests/unit/test_transport_error.py::t"
URL = "http://127.0.0.1:9/v1/chat/completions"
CUT = {"type": "httpx2.RemoteProtocolError", "message": "peer closed connection (incomplete chunked read)"}


def chunk(text: str) -> bytes:
    data = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    data["choices"] = [{"index": 0, "delta": {"content": text}, "finish_reason": None}]
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def interaction(
    wire: bytes, error: dict[str, str] | None = CUT, content_type: str = "text/event-stream"
) -> tuple[Request, dict[str, Any]]:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True})
    request = Request("POST", URL, body.encode(), {"content-type": "application/json"})
    response: dict[str, Any] = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": [content_type]},
        "body": {"string": wire},
    }
    if error is not None:
        response["transport_error"] = error
    return request, response


def encoded(wire: bytes, error: dict[str, str] | None = CUT, **kwargs: Any) -> dict[str, Any]:
    return json.loads(json.dumps(CODEC.encode(*interaction(wire, error, **kwargs), TEST_ID)))


def test_a_cut_stream_is_stored_as_its_whole_events_and_the_error() -> None:
    document = encoded(chunk("a") + chunk("b") + b'data: {"id": "c", "obj')
    response = document["response"]
    assert response["transport_error"] == CUT
    assert [c["__data__"]["choices"][0]["delta"]["content"] for c in response["body"]] == ["a", "b"]
    assert response["is_streaming"] is True and response["sse_done"] is False


def test_a_whole_response_has_no_transport_error() -> None:
    assert "transport_error" not in encoded(chunk("a") + b"data: [DONE]\n\n", None)["response"]


def test_a_cut_json_body_keeps_the_bytes_that_arrived() -> None:
    document = encoded(b'{"id": "x", "cho', content_type="application/json")
    assert document["response"]["body"] == {"__text__": '{"id": "x", "cho'}
    assert document["response"]["transport_error"] == CUT


def test_the_message_is_redacted_like_the_body(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-proj-" + "A1b2C3d4" * 6
    error = {"type": "httpx.ReadError", "message": f"reset while sending key {secret}"}
    document = encoded(chunk("a"), error)
    assert secret not in json.dumps(document)
    assert document["response"]["transport_error"]["type"] == "httpx.ReadError"


def test_an_error_not_in_the_allowlist_is_refused_while_recording() -> None:
    with pytest.raises(RecordingFormatError, match="not a transport error llama-vcr replays"):
        CODEC.encode(*interaction(chunk("a"), {"type": "os.system", "message": "x"}), TEST_ID)


def test_decode_gives_vcrpy_the_bytes_and_the_error() -> None:
    document = encoded(chunk("a") + chunk("b"))
    _, response = CODEC.decode(document)
    assert response["transport_error"] == CUT
    assert response["body"]["string"].count(b"data: ") == 2 and b"[DONE]" not in response["body"]["string"]
    _, whole = CODEC.decode(encoded(chunk("a"), None))
    assert "transport_error" not in whole


@pytest.mark.parametrize(
    ("body", "content_type", "kept"),
    [
        (b"data: 1\n\ndata: 2\n\ndata: 3", "text/event-stream", b"data: 1\n\ndata: 2\n\n"),
        (b"data: 1\r\n\r\ndata: 2\r\n", "text/event-stream; charset=utf-8", b"data: 1\r\n\r\n"),
        (b"event: x\ndata: 1\r\rdata", "text/event-stream", b"event: x\ndata: 1\r\r"),
        (b"data: 1\n", "text/event-stream", b""),
        (b'{"a": 1}\n{"a": 2}\n{"a"', "application/x-ndjson", b'{"a": 1}\n{"a": 2}\n'),
        (b'{"a"', "application/x-ndjson", b""),
        (b'{"a": 1, "b', "application/json", b'{"a": 1, "b'),
        # the framing comes from the bytes: NDJSON under an SSE header, SSE under a JSON one
        (b'{"a": 1}\n{"a": 2}\n{"a"', "text/event-stream", b'{"a": 1}\n{"a": 2}\n'),
        (b"data: 1\n\ndata: 2", "application/json", b"data: 1\n\n"),
    ],
)
def test_whole_frames_keeps_what_a_client_could_have_read(
    body: bytes, content_type: str, kept: bytes
) -> None:
    assert whole_frames(body, content_type) == kept


# --- loading ------------------------------------------------------------------------------------------


def write(directory: Path, document: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / recording_name(document)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def load(directory: Path) -> None:
    replaying = vcr.VCR(record_mode="none")
    configure_vcr(replaying, CODEC, TEST_ID)
    with replaying.use_cassette(str(directory)):
        pass


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("cut", "response.transport_error: 'cut' is not an object with 'type' and 'message'"),
        ({"type": "httpx.ReadError"}, "response.transport_error.message: None is not a string"),
        ({"type": 1, "message": "m"}, "response.transport_error.type: 1 is not a string"),
        (
            {"type": "builtins.SystemExit", "message": "m"},
            "response.transport_error.type: 'builtins.SystemExit' is not a transport error llama-vcr replays",
        ),
        (
            {"type": "httpx.ReadError", "message": "m", "args": []},
            "response.transport_error: unexpected key 'args' next to message, type",
        ),
    ],
)
def test_a_bad_transport_error_fails_to_load_naming_the_file_and_the_field(
    tmp_path: Path, value: Any, problem: str
) -> None:
    document = encoded(chunk("a"))
    document["response"]["transport_error"] = value
    path = write(tmp_path / "t", document)
    with pytest.raises(RecordingError) as info:
        load(tmp_path / "t")
    assert info.value.path == path and problem in info.value.problem, info.value.problem


def test_every_allowed_type_loads(tmp_path: Path) -> None:
    for name in TRANSPORT_ERROR_TYPES:
        document = encoded(chunk(name), {"type": name, "message": "m"})
        write(tmp_path / "t", document)
    load(tmp_path / "t")


def test_the_schema_allows_the_types_loading_allows(recording_schema: Any) -> None:
    schema = recording_schema.schema["properties"]["response"]["properties"]["transport_error"]
    assert schema["properties"]["type"]["enum"] == list(TRANSPORT_ERROR_TYPES)


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_cut_compressed_body_is_decoded_as_far_as_it_arrived(coding: str) -> None:
    sent = [str(n) for n in range(40)]
    wire = b"".join(chunk(text) for text in sent)
    packed = gzip.compress(wire) if coding == "gzip" else zlib.compress(wire)
    request, response = interaction(packed[: len(packed) * 3 // 4])
    response["headers"]["content-encoding"] = [coding]
    document = json.loads(json.dumps(CODEC.encode(request, response, TEST_ID)))
    contents = [c["__data__"]["choices"][0]["delta"]["content"] for c in document["response"]["body"]]
    assert 5 < len(contents) < len(sent) and contents == sent[: len(contents)]
    assert document["response"]["transport_error"] == CUT
