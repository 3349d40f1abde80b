"""Stream framing from the bytes (format/framing): what each wire shape is stored as, and that what
is stored replays so the SDKs' own parsers read what they read live, whatever the Content-Type."""

from __future__ import annotations

import json
from typing import Any

import anthropic._streaming
import httpx
import openai._streaming
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vcr.request import Request

from llama_vcr import RecordingCodec
from llama_vcr._normalize import Normalizer
from llama_vcr.format.framing import FRAMING_KEY, encode_body, header_framing, parse_sse
from llama_vcr.format.wire import RecordingFormatError

#: A codec that keeps responses verbatim (normalisation has its own tests).
VERBATIM = RecordingCodec(normalizer=Normalizer({}, map_ids=False))
URL = "http://127.0.0.1:5000/v1/stream"  # (no type rule: values stay plain JSON)
CONTENT_TYPES = ["text/event-stream", "application/x-ndjson", "application/json", "text/plain", ""]


def replayed(
    body: bytes, content_type: str, *, stream: bool = True, url: str = URL, status: int = 200
) -> tuple[dict[str, Any], bytes]:
    """(stored response, bytes replay serves): encoded, written, read back and decoded."""
    request = Request("POST", url, json.dumps({"stream": stream}).encode(), {})
    headers = {"content-type": [content_type]} if content_type else {}
    response = {"status": {"code": status, "message": ""}, "headers": headers, "body": {"string": body}}
    document = VERBATIM.deserialize(VERBATIM.serialize(VERBATIM.encode(request, response, "t.py::t")))
    _, played = VERBATIM.decode(document)
    if content_type:  # the client sees the header it saw live
        assert played["headers"]["content-type"] == [content_type]
    return document["response"], bytes(played["body"]["string"])


def _value(data: str) -> Any:
    try:
        return ("json", json.loads(data))
    except ValueError:
        return ("text", data)


def openai_events(body: bytes) -> list[Any]:
    """What the openai SDK's SSE decoder dispatches (its Stream then calls ``sse.json()``)."""
    events = openai._streaming.SSEDecoder().iter_bytes(iter([body]))
    return [(e.event, _value(e.data), e.id, e.retry) for e in events]


def anthropic_events(body: bytes) -> list[Any]:
    events = anthropic._streaming.SSEDecoder().iter_bytes(iter([body]))
    return [(e.event, _value(e.data), e.id, e.retry) for e in events]


def ndjson_lines(body: bytes) -> list[Any]:
    """What Ollama's client reads: httpx ``iter_lines``, each line ``json.loads``-ed."""
    return [_value(line) for line in httpx.Response(200, content=body).iter_lines()]


# --- each wire shape --------------------------------------------------------------------------------

SSE = b'data: {"a":1}\n\ndata: {"a":2}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_sse_is_stored_as_events_under_any_content_type_and_keeps_the_header(content_type: str) -> None:
    stored, wire = replayed(SSE, content_type)
    assert stored["body"] == [{"a": 1}, {"a": 2}] and stored["sse_done"] is True
    assert stored["headers"].get("content-type", "") == content_type
    assert stored.get(FRAMING_KEY) == ("sse" if "ndjson" in content_type else None)
    assert openai_events(wire) == openai_events(SSE)
    assert len(openai_events(wire)) == 3


@pytest.mark.parametrize(
    "wire",
    [
        b'data:{"a":1}\n\n',  # no space after the colon
        b"data: first\ndata: second\n\n",  # multi-line data
        b'event: delta\ndata: {"a":1}\n\nevent: done\ndata: bye\n\n',
        b': ping\n\ndata: {"a":1}\n: keep-alive\n\n',  # comments
        b'data: {"a":1}\r\n\r\ndata: [DONE]\r\n\r\n',  # CRLF
        b'data: {"a":1}\r\rdata: x\r\r',  # CR
        b"data: [DONE]\n\ndata: after\n\n",  # [DONE] not last: a text event
        b'data: {"a":\ndata: 1}\n\n',  # JSON over two data lines
        b"data:  two spaces\n\n",
        b"event:  spaced\ndata: x\n\n",
    ],
)
def test_sse_shapes_stored_as_events_replay_the_same_events(wire: bytes) -> None:
    stored, played = replayed(wire, "application/x-ndjson")
    assert stored["is_streaming"] is True and isinstance(stored["body"], list)
    assert openai_events(played) == openai_events(wire)
    assert anthropic_events(played) == anthropic_events(wire)


@pytest.mark.parametrize(
    "wire",
    [
        b"id: 7\ndata: x\n\n",  # the SDKs keep the id
        b"retry: 100\ndata: x\n\n",
        b"event: ping\n\ndata: x\n\n",  # an event with no data: the SDKs dispatch it, WHATWG does not
        b"data: x\n\ndata: never ended\n",  # the SDKs drop the last event
        b'data: x\n\n{"a": 1}\n',  # mixed framings
    ],
)
def test_sse_that_events_would_not_replay_faithfully_is_kept_byte_for_byte(wire: bytes) -> None:
    stored, played = replayed(wire, "text/event-stream")
    assert stored["body"] == {"__text__": wire.decode()} and stored["is_streaming"] is False
    assert played == wire


def test_ndjson_under_an_sse_header_is_stored_as_lines() -> None:
    wire = b'{"a":1}\n{"a":2}\r\n{"a":3}'
    stored, played = replayed(wire, "text/event-stream")
    assert stored["body"] == [{"a": 1}, {"a": 2}, {"a": 3}] and stored[FRAMING_KEY] == "ndjson"
    assert ndjson_lines(played) == ndjson_lines(wire)


@pytest.mark.parametrize(
    "wire",
    [
        b'{"a":1}\n\n{"a":2}\n',  # a blank line: a line reader yields it (json.loads fails on it)
        '{"a":"x\u2029y"}\n{"a":2}\n'.encode(),  # a line reader splits at U+2029
        b'{"a":1}\nnot json\n',  # a text line without an NDJSON header
    ],
)
def test_ndjson_a_line_reader_would_read_differently_is_kept_byte_for_byte(wire: bytes) -> None:
    stored, played = replayed(wire, "application/json")
    assert stored["body"] == {"__text__": wire.decode()}
    assert played == wire


def test_escaped_line_separators_stay_escaped_on_replay() -> None:
    wire = b'{"a":"x\\u2028y"}\n{"a":2}\n'
    stored, played = replayed(wire, "application/x-ndjson")
    assert stored["body"] == [{"a": "x\u2028y"}, {"a": 2}]
    assert ndjson_lines(played) == ndjson_lines(wire) and len(ndjson_lines(played)) == 2


def test_json_under_an_sse_header_is_stored_as_json() -> None:
    stored, played = replayed(b'{"error": {"message": "no"}}', "text/event-stream")
    assert stored["body"] == {"error": {"message": "no"}} and stored["is_streaming"] is False
    assert json.loads(played) == {"error": {"message": "no"}} and openai_events(played) == []


def test_multi_line_json_answering_a_stream_request_is_kept_byte_for_byte() -> None:
    wire = b'{\n  "a": 1\n}\n'
    assert replayed(wire, "application/json")[1] == wire
    assert replayed(wire, "application/json", stream=False)[0]["body"] == {"a": 1}
    assert replayed(wire, "application/json", status=400)[0]["body"] == {"a": 1}  # an error is read whole


def test_a_stream_that_is_not_utf8_is_kept_as_bytes() -> None:
    stored, played = replayed(b"data: \xff\n\n", "application/x-ndjson")
    assert set(stored["body"]) == {"__bytes__"} and played == b"data: \xff\n\n"


def test_the_framing_field_is_written_only_where_the_header_would_mislead() -> None:
    assert header_framing("application/x-ndjson", URL) == "ndjson"
    assert header_framing("", "http://h/api/chat") == "ndjson"
    assert header_framing("", URL) == header_framing("application/json", URL) == "sse"
    lines = b'{"a":1}\n{"a":2}\n'
    assert FRAMING_KEY not in encode_body(lines, "application/x-ndjson", None, url=URL, streamed=True)
    assert FRAMING_KEY not in encode_body(lines, "", None, url="http://h/api/chat", streamed=True)
    assert encode_body(lines, "", None, url=URL, streamed=True)[FRAMING_KEY] == "ndjson"


@pytest.mark.parametrize("framing", ["json", 1, None])
def test_a_framing_other_than_sse_or_ndjson_does_not_load(framing: Any) -> None:
    stored, _ = replayed(SSE, "application/x-ndjson")
    document = {
        "request": {"method": "POST", "url": URL, "headers": {}, "body": {"stream": True}},
        "response": {**stored, FRAMING_KEY: framing},
    }
    with pytest.raises(RecordingFormatError, match=r"response\.framing"):
        VERBATIM.decode(document)


def test_parse_sse_says_what_it_cannot_keep() -> None:
    assert parse_sse("data: a\n\n") == ([(None, "a")], None, True)
    assert parse_sse("id: 1\ndata: a\n\n")[1] == "a 'id' field"
    assert parse_sse('{"a": 1}\n')[2] is False


# --- any generated stream, under any content type ---------------------------------------------------

_TEXT = st.text(st.sampled_from('ab :é[]{}\u2028"\\'), max_size=6)
_JSON = st.dictionaries(
    st.sampled_from(["a", "b", "msg"]),
    st.one_of(st.integers(-5, 5), st.booleans(), st.none(), _TEXT),
    max_size=3,
)
_ENDS = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def sse_streams(draw: st.DrawFn) -> bytes:
    end = draw(_ENDS)
    out = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            out.append(": ping" + end)
        if draw(st.integers(0, 3)) == 0:
            out.append("event: " + draw(st.sampled_from(["delta", "done", "x:y"])) + end)
        if draw(st.integers(0, 9)) == 0:
            out.append(draw(st.sampled_from(["id: 1", "retry: 5"])) + end)
        datas = [
            draw(st.one_of(_JSON.map(lambda v: json.dumps(v, ensure_ascii=False)), _TEXT))
            for _ in range(draw(st.integers(1, 2)))
        ]
        for data in datas:
            out.append(("data:" if draw(st.booleans()) else "data: ") + data + end)
        out.append(end)
    if draw(st.booleans()):
        out.append("data: [DONE]" + end + end)
    text = "".join(out)
    if text and draw(st.integers(0, 9)) == 0:
        text = text[: -len(end)]  # no blank line after the last event
    return text.encode()


@st.composite
def ndjson_streams(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        value = draw(_JSON)
        lines.append(
            json.dumps(
                value,
                ensure_ascii=draw(st.booleans()),
                separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])),
            )
        )
    if draw(st.integers(0, 5)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "oops", "data: x"])))
    end = draw(_ENDS)
    return (end.join(lines) + (end if draw(st.booleans()) else "")).encode()


@settings(max_examples=300, deadline=None)
@given(sse_streams(), st.sampled_from(CONTENT_TYPES))
def test_any_sse_stream_replays_the_events_the_sdks_read(wire: bytes, content_type: str) -> None:
    _, played = replayed(wire, content_type)
    assert openai_events(played) == openai_events(wire)
    assert anthropic_events(played) == anthropic_events(wire)


@settings(max_examples=300, deadline=None)
@given(ndjson_streams(), st.sampled_from(CONTENT_TYPES))
def test_any_ndjson_stream_replays_the_lines_a_line_reader_reads(wire: bytes, content_type: str) -> None:
    _, played = replayed(wire, content_type)
    assert ndjson_lines(played) == ndjson_lines(wire)
    assert openai_events(played) == openai_events(wire)


def _stored_checked_whole(wire: bytes) -> dict[str, Any] | None:
    """The stored stream as it was decided before the check went event by event: the whole stream
    written back, parsed again and compared (the oracle of the next test)."""
    from llama_vcr.format import framing
    from llama_vcr.format.wire import encode_stream, stream_bytes

    events, problem, shaped = parse_sse(wire.decode("utf-8"))
    if not shaped or problem:
        return None
    chunks, done = encode_stream(events, None)
    replayed, problem, _ = parse_sse(stream_bytes(chunks, done).decode("utf-8"))
    if problem is not None or framing._semantic(replayed) != framing._semantic(events):
        return None
    return {"body": chunks, "is_streaming": True, "sse_done": done}


@settings(max_examples=300, deadline=None)
@given(sse_streams())
def test_checking_a_stream_event_by_event_decides_as_checking_it_whole(wire: bytes) -> None:
    """Recording checks that each stored event writes back as the event it was (one at a time, so a
    big stream is not held again as bytes, text and events): the same decision as the whole check."""
    from llama_vcr.format.framing import _sse

    events, problem, shaped = parse_sse(wire.decode("utf-8"))
    if not shaped or problem:
        return
    assert _sse(events, None) == _stored_checked_whole(wire)


_ANY_TEXT = st.text(st.sampled_from('ab é"\\\n\r\u2028\u0085\ud83d😀'), max_size=6)
_CHUNK_DATA = st.dictionaries(
    st.sampled_from(["a", "b", "é"]), st.one_of(st.integers(), st.none(), _ANY_TEXT), max_size=3
)
_STORED_CHUNKS = st.lists(
    st.one_of(
        st.builds(lambda data: {"__type__": "T", "__data__": data}, _CHUNK_DATA),
        st.builds(lambda data: {"__type__": None, "__data__": data}, _CHUNK_DATA | _ANY_TEXT),
        st.builds(
            lambda data, event: {"__data__": data, "__event__": event},
            _CHUNK_DATA,
            st.sampled_from(["x", "é"]),
        ),
        st.builds(
            lambda text: {"__text__": text}, _ANY_TEXT.filter(lambda t: "\ud83d" not in t)
        ),  # (validated)
        _CHUNK_DATA,
    ),
    max_size=5,
)


@given(_STORED_CHUNKS, st.booleans())
def test_a_stream_of_envelopes_is_written_as_chunk_by_chunk(chunks: list[Any], done: bool) -> None:
    """The fast path for typed streams (one text, encoded once) writes the bytes the general path
    writes, chunk by chunk, for any stored stream."""
    from unittest import mock

    from llama_vcr.format import wire

    expected = wire._stream_bytes_each(chunks, done)
    assert wire.stream_bytes(chunks, done) == expected
    with mock.patch.object(wire, "_BATCH", 2):  # (written in batches)
        assert wire.stream_bytes(chunks, done) == expected


def test_event_data_parsed_together_cannot_shift_between_events() -> None:
    """Joined in one JSON array, these three events give three values, shifted: ``{"x": 1, "y": 2}``,
    3 and 4. Each is stored as the event it was (text: none is JSON alone) and replays as sent."""
    from llama_vcr.format.framing import _sse

    events: list[tuple[str | None, str]] = [(None, '{"x": 1'), (None, '"y": 2}'), (None, "3, 4")]
    stored = _sse(events, None)
    assert stored is not None
    assert stored["body"] == [{"__text__": '{"x": 1'}, {"__text__": '"y": 2}'}, {"__text__": "3, 4"}]
    wire = b'data: {"x": 1\n\ndata: "y": 2}\n\ndata: 3, 4\n\n'
    assert _stored_checked_whole(wire) == stored


_WIRE_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("xyé"), inner, max_size=3),
    max_leaves=12,
)


@given(st.lists(_WIRE_JSON.map(lambda v: json.dumps(v, ensure_ascii=False)) | _ANY_TEXT, max_size=4))
def test_the_decoder_a_stream_shares_reads_what_json_loads_reads(texts: list[str]) -> None:
    """A stream's chunks are parsed by one decoder that shares their equal strings; each reads as
    ``loads_wire`` alone reads it (or is refused the same way), and equal strings are one object."""
    from llama_vcr.format.wire import loads_wire, sharing_decoder

    decoder = sharing_decoder()
    texts = [*texts, '{"x": "same", "y": "same"}', '{"x": 1, "x": "last"}']
    for text in texts:
        try:
            expected = loads_wire(text)
        except ValueError:
            with pytest.raises(ValueError):
                loads_wire(text, decoder)
            continue
        assert loads_wire(text, decoder) == expected
    first, second = loads_wire('{"x": "same"}', decoder), loads_wire('{"y": "same"}', decoder)
    assert first["x"] is second["y"]


_ANY_JSON = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), _TEXT, st.lists(st.integers(0, 3), max_size=2), _JSON
)
TYPED_STREAMS = [
    ("https://api.openai.com/v1/chat/completions", "text/event-stream"),
    ("https://api.anthropic.com/v1/messages", "text/event-stream"),
    ("http://127.0.0.1:11434/api/chat", "application/x-ndjson"),
]


@settings(max_examples=150, deadline=None)
@given(st.lists(_ANY_JSON, min_size=1, max_size=4), st.sampled_from(TYPED_STREAMS))
def test_a_typed_stream_of_any_json_values_records_a_file_that_loads_and_replays_it(
    values: list[Any], where: tuple[str, str]
) -> None:
    """An SDK's stream may carry ``data: null`` or a string: what recording writes always loads
    (a typed stream's non-object value is kept as its text) and replays the same lines."""
    url, content_type = where
    lines = [json.dumps(value) for value in values]
    if content_type == "text/event-stream":
        wire = "".join(f"data: {line}\n\n" for line in lines).encode()
    else:
        wire = "".join(f"{line}\n" for line in lines).encode()
    _, played = replayed(wire, content_type, url=url)
    if content_type == "text/event-stream":
        assert openai_events(played) == openai_events(wire)
        assert anthropic_events(played) == anthropic_events(wire)
    else:
        assert ndjson_lines(played) == ndjson_lines(wire)
