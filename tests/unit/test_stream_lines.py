"""``stream_lines.read`` loads a stream a chunk line at a time, serving each chunk's ``__data__``
as the file holds it. It may decline any file (the reference, ``strict_json.parse`` then
``codec.decode``, reads it whole), but a file it reads must be one the reference loads, replaying
the same events: byte for byte for every file llama-vcr writes, value for value for any other.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llama_vcr import CODEC, RecordingError
from llama_vcr._store import read_document
from llama_vcr._vcrpy.persister import RecordingPersister
from llama_vcr.format import layout, stream_lines
from llama_vcr.format.framing import parse_sse
from llama_vcr.format.stream_lines import StreamLines
from llama_vcr.format.strict_json import MAX_DEPTH
from llama_vcr.format.wire import RecordingFormatError

_CHUNK_TYPE = "openai.types.chat.chat_completion_chunk.ChatCompletionChunk"
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)  # (no lone surrogate)
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
_JSON = st.recursive(
    _SCALARS | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=10,
)
_DATA = st.dictionaries(_TEXT, _JSON, max_size=4)
_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,24}", fullmatch=True)
_EVENT_NAME = st.from_regex(r"[a-z_]{1,16}", fullmatch=True)


def _document(chunks: list[Any], *, ndjson: bool = False, done: bool = True) -> dict[str, Any]:
    content_type = "application/x-ndjson" if ndjson else "text/event-stream; charset=utf-8"
    return {
        "test_id": "tests/test_chat.py::test_stream",
        "request": {
            "method": "POST",
            "url": "http://127.0.0.1/v1/chat/completions",
            "headers": {"content-type": "application/json"},
            "body": {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
            "endpoint": "/v1/chat/completions",
            "model": "m",
        },
        "response": {
            "body": chunks,
            "is_streaming": True,
            "sse_done": done,
            "status": 200,
            "headers": {"content-type": content_type, "x-request-id": "req_1"},
        },
    }


def _chunk(data: dict[str, Any], type_name: str = _CHUNK_TYPE, event: str | None = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {"__type__": type_name, "__data__": data}
    if event is not None:
        chunk["__event__"] = event
    return chunk


def _file(document: dict[str, Any]) -> bytes:
    return layout.dumps(document).encode("utf-8")


def _wire(document: dict[str, Any]) -> bytes:
    """The bytes replay serves for a loaded document."""
    body: bytes = CODEC.decode(document)[1]["body"]["string"]
    return body


def _reference(data: bytes) -> bytes | None:
    """What the reference replays for a file, or None if it refuses it."""
    try:
        return _wire(CODEC.deserialize(data))
    except RecordingFormatError:
        return None


def _events(body: bytes, ndjson: bool) -> list[tuple[str | None, Any]]:
    """The events a body replays, as an SDK reads them (JSON data as its value)."""
    text = body.decode("utf-8")
    if ndjson:
        return [(None, json.loads(line)) for line in text.split("\n") if line]
    events, problem, _ = parse_sse(text)
    assert problem is None
    return [(name, data if data == "[DONE]" else json.loads(data)) for name, data in events]


# --- files llama-vcr writes: read line by line, the same bytes ---------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(_DATA, _NAME, st.none() | _EVENT_NAME), min_size=1, max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_a_written_stream_is_read_line_by_line_and_replays_the_same_bytes(
    chunks: list[tuple[dict[str, Any], str, str | None]], ndjson: bool, done: bool
) -> None:
    document = _document([_chunk(d, t, e) for d, t, e in chunks], ndjson=ndjson, done=done)
    data = _file(document)
    read = stream_lines.read(data)
    assert read is not None
    body = read["response"]["body"]
    assert isinstance(body, StreamLines) and len(body) == len(chunks)
    assert body.types == list(dict.fromkeys(t for _, t, _ in chunks))
    assert _wire(read) == _reference(data)
    del read["response"]["body"], document["response"]["body"]
    assert read == document  # (the rest of the document as the reference reads it)


def test_events_with_names_and_ndjson_lines_replay_as_the_wire_had_them() -> None:
    events = [_chunk({"type": "ping"}, "anthropic.types.RawMessageStreamEvent", "ping")]
    events.append(_chunk({"type": "message_stop"}, "anthropic.types.RawMessageStreamEvent", "message_stop"))
    document = _document(events, done=False)
    read = stream_lines.read(_file(document))
    assert read is not None
    assert _wire(read) == (
        b'event: ping\ndata: {"type":"ping"}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    lines = _document([_chunk({"done": False}, "ollama._types.ChatResponse")] * 2, ndjson=True)
    read = stream_lines.read(_file(lines))
    assert read is not None and _wire(read) == b'{"done":false}\n{"done":false}\n'


def test_the_data_is_served_as_the_file_holds_it() -> None:
    """A hand-written chunk in the compact layout is served as written (a number as ``1.50``, a
    ``\\/``): the same value for the SDK, and the bytes a reviewer sees in the file."""
    data = _file(_document([_chunk({"a": 1}), _chunk({"b": 2})]))
    edited = data.replace(b'{"a":1}', b'{"a":1.50,"s":"x\\/y"}')
    read = stream_lines.read(edited)
    assert read is not None
    assert _wire(read).startswith(b'data: {"a":1.50,"s":"x\\/y"}\n\n')
    reference = _reference(edited)
    assert reference is not None and _events(_wire(read), False) == _events(reference, False)


def test_backslashes_before_a_u_are_told_from_an_escape() -> None:
    """``"\\\\u"`` is the text ``\\u`` (written by llama-vcr, read line by line); ``"\\\\\\u00e9"`` is
    a backslash and an escaped ``é`` (which llama-vcr writes as it is: read whole)."""
    written = _file(_document([_chunk({"\\u": "\\\\u00e9 \\\\\\u", "b": "\x1b"})]))
    assert b'"\\\\u"' in written and b"\\u001b" in written
    read = stream_lines.read(written)
    assert read is not None and _wire(read) == _reference(written)
    escaped = written.replace(b'"b":', b'"\\\\\\u00e9":', 1)
    assert stream_lines.read(escaped) is None
    assert _events(_reference(escaped) or b"", False)[0][1]["\\\u00e9"] == "\x1b"


def test_line_separators_in_the_data_are_escaped_as_the_reference_escapes_them() -> None:
    document = _document([_chunk({"text": "a\u2028b\u0085c"}), _chunk({"text": "\x1b[0m"})])
    data = _file(document)
    assert "\u2028".encode() in data and b"\\u001b" in data
    read = stream_lines.read(data)
    assert read is not None
    assert _wire(read) == _reference(data)
    assert "\u2028".encode() not in _wire(read) and b"\\u2028" in _wire(read)


# --- files it declines: read whole by the reference -------------------------------------------------


def test_files_in_other_layouts_are_declined() -> None:
    document = _document([_chunk({"a": 1}), _chunk({"b": "é"})])
    indented = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    spaced = layout.dumps(document)  # (the layout of earlier versions: spaces after "," and ":")
    for chunk in document["response"]["body"]:
        spaced = spaced.replace(
            json.dumps(chunk, separators=(",", ":"), ensure_ascii=False),
            json.dumps(chunk, ensure_ascii=False),
        )
    escaped = (json.dumps(document, indent=2) + "\n").encode("ascii")  # (how a lone surrogate is written)
    untyped = _file(_document([{"__data__": {"a": 1}, "__untyped__": "union"}, _chunk({"b": 1})]))
    text = _file(_document([_chunk({"a": 1}), {"__text__": "not json"}]))
    no_stream = json.dumps(
        {**document, "response": {**document["response"], "is_streaming": False}}, indent=2
    )
    for declined in (indented, spaced.encode(), escaped, untyped, text, no_stream.encode()):
        assert stream_lines.read(declined) is None
    written = stream_lines.read(_file(document))
    assert written is not None
    for layout_of_before in (indented, spaced.encode(), escaped):  # (these replay as they always did)
        assert _reference(layout_of_before) == _wire(written)


def test_a_llama_stack_file_is_declined() -> None:
    document = _document([_chunk({"a": 1})])
    document["request"]["payload"] = document["request"].pop("body")
    assert stream_lines.read(_file(document)) is None


def test_chunk_like_lines_elsewhere_than_the_response_body_are_not_taken_for_it() -> None:
    """The sentinel proves where the list was: chunk lines in a later field are not the body."""
    data = _file(_document([_chunk({"a": 1})]))
    line = b'      {"__type__":"%s","__data__":{"evil":1}}' % _CHUNK_TYPE.encode()
    assert data.endswith(b"\n    }\n  }\n}\n")
    data = data[: -len(b"\n  }\n}\n")] + b',\n    "zz": [\n' + line + b"\n    ]\n  }\n}\n"
    read = stream_lines.read(data)
    reference = _reference(data)
    assert reference is not None and b"evil" not in reference
    assert read is None or _wire(read) == reference


_DUPLICATE = ('{"a":1,"a":2}', "response.body[1].__data__: duplicate key 'a'")
_NAN = ('{"a":NaN}', "response.body[1].__data__.a: NaN is not a JSON number")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        _DUPLICATE,
        _NAN,
        ('{"a":' + "[" * (MAX_DEPTH - 4) + "]" * (MAX_DEPTH - 4) + "}", "nested more than"),
        ('{"a":"\xff"}', "not UTF-8"),
        ('{"a":1', "not valid JSON"),
        ("[1]", "not the JSON object the SDK expects"),
    ],
)
def test_a_refused_chunk_is_refused_with_the_references_message(
    tmp_path: Path, data: str, message: str
) -> None:
    text = _file(_document([_chunk({"ok": 1}), _chunk({"x": 0}), _chunk({"ok": 2})]))
    bad = text.replace(b'{"x":0}', data.encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff"))
    assert stream_lines.read(bad) is None
    path = tmp_path / "recording.json"
    path.write_bytes(bad)
    with pytest.raises((RecordingError, RecordingFormatError)) as raised:  # (read, or decoded)
        CODEC.decode(read_document(path, CODEC, stream_lines=True))
    assert message in str(raised.value)
    assert str(path) in str(raised.value) or raised.type is RecordingFormatError


def test_just_under_the_depth_limit_is_read_line_by_line() -> None:
    deep = "[" * (MAX_DEPTH - 5) + "]" * (MAX_DEPTH - 5)
    data = _file(_document([_chunk({"ok": 1}), _chunk({"x": 0})])).replace(
        b'{"x":0}', f'{{"a":{deep}}}'.encode()
    )
    read = stream_lines.read(data)
    assert read is not None and _wire(read) == _reference(data)


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace(b'{"x":0}}', b'{"x":0}},', 1).replace(
            b'{"ok":2}}\n', b'{"ok":2}},\n'
        ),  # comma after last
        lambda t: t.replace(b'{"x":0}},\n', b'{"x":0}}\n', 1),  # no comma between chunks
        lambda t: t.replace(
            b'{"x":0}', b'{"x":\r0}'
        ),  # a carriage return: JSON whitespace, an SSE line break
        lambda t: t.replace(b'{"x":0}', b'{"x":\n0}'),  # a line break inside a chunk
        lambda t: t.replace(b'{"x":0}}', b'{"x":0},"__type__":"other"}'),  # a duplicate envelope key
        lambda t: t.replace(b'{"x":0}}', b'{"x":0},"extra":1}'),  # a key next to the envelope's
        lambda t: t.replace(b'{"x":0}}', b'{"x":0} '),  # the envelope's "}" missing
        lambda t: t.replace(b'{"x":0}}', b'{"x":0},"__event__":"a\\nb"}'),  # an event name with an escape
        lambda t: t.replace(b'"__type__":"openai', b'"__type__":"open\\u0061i', 1),  # an escaped class name
        lambda t: t.replace(b'{"x":0}', b'{"x":"\\u00e9"}'),  # an escape llama-vcr does not write
        lambda t: b"\xef\xbb\xbf" + t,  # a byte order mark
        lambda t: t.replace(b'{"x":0}', b""),  # no data at all
    ],
)
def test_lines_in_any_other_form_are_declined(edit: Any) -> None:
    text = _file(_document([_chunk({"ok": 1}), _chunk({"x": 0}), _chunk({"ok": 2})]))
    edited = edit(text)
    assert edited != text
    assert stream_lines.read(edited) is None


# --- any edit: declined, or read as the reference reads it ------------------------------------------

_EDIT_BYTES = st.sampled_from([*b'{}[]",:\\ \n\r\t0-1.eEnNu"aA_x', 0xFF, 0xC3, 0xA9, 0xE2, 0x80, 0xA8])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(_DATA, st.none() | _EVENT_NAME), min_size=1, max_size=4),
    st.booleans(),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.sampled_from("rid"), _EDIT_BYTES), max_size=3),
)
def test_an_edited_file_is_declined_or_replays_what_the_reference_replays(
    chunks: list[tuple[dict[str, Any], str | None]], ndjson: bool, edits: list[tuple[float, str, int]]
) -> None:
    """Bytes replaced, inserted or deleted anywhere in the chunk lines (a hostile or careless edit):
    a file read line by line is one the reference loads, with the same events."""
    data = bytearray(_file(_document([_chunk(d, event=e) for d, e in chunks], ndjson=ndjson)))
    start = data.index(b'"body": [') + 9
    end = data.rindex(b"\n    ]") + 6
    for where, how, byte in edits:
        at = start + int(where * (end - start))
        if how == "r":
            data[at] = byte
        elif how == "i":
            data.insert(at, byte)
        elif len(data) > at:
            del data[at]
    edited = bytes(data)
    read = stream_lines.read(edited)
    if read is None:
        return
    reference = _reference(edited)
    assert reference is not None, edited
    assert _events(_wire(read), ndjson) == _events(reference, ndjson)


def test_a_recording_loaded_for_replay_keeps_no_parsed_chunk(tmp_path: Path) -> None:
    path = tmp_path / "recording.json"
    path.write_bytes(_file(_document([_chunk({"i": i, "text": "x" * 20}) for i in range(50)])))
    document = read_document(path, CODEC, stream_lines=True)
    body = document["response"]["body"]
    assert isinstance(body, StreamLines)
    assert all(type(data) is bytes for data in body.datas)
    assert read_document(path, CODEC)["response"]["body"][0] == _chunk({"i": 0, "text": "x" * 20})
    assert re.fullmatch(rb'(data: \{"i":\d+,"text":"x{20}"\}\n\n){50}data: \[DONE\]\n\n', _wire(document))


def test_a_stream_named_like_a_llama_stack_model_list_is_read_whole(tmp_path: Path) -> None:
    """The persister merges the lists of ``models-<hash>-<n>.json`` files (llama-stack's model
    lists); such a file is read whole, so a stream named so replays as the reference merges it."""
    path = tmp_path / "models-aaaaaaaaaaaa-00000001.json"
    chunks = [_chunk({"id": "b", "n": 1}), _chunk({"id": "a", "n": 2}), _chunk({"id": "a", "n": 3})]
    path.write_bytes(_file(_document(chunks)))
    loaded = RecordingPersister(CODEC, cassette_root=tmp_path)._load_file(path)
    assert loaded is not None
    merged = _events(loaded[1]["body"]["string"], False)
    assert merged[:2] == [(None, {"id": "a", "n": 3}), (None, {"id": "b", "n": 1})]
