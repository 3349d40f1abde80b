"""The file text of a recording: indented JSON, a stream's chunks one compact value per line."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from llama_vcr import CODEC
from llama_vcr.format import layout
from llama_vcr.format.strict_json import parse

#: The whitespace a layout writes (JSON's, not str.split()'s: "\x85" is text).
_LAYOUT = re.compile("[ \n]")
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
_JSON = st.recursive(
    _SCALARS | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_CHUNK = st.fixed_dictionaries(
    {"__type__": st.text(max_size=20), "__data__": st.dictionaries(st.text(max_size=8), _JSON, max_size=4)}
)


def _document(
    chunks: list[Any], extra: dict[str, Any] | None = None, streaming: bool = True
) -> dict[str, Any]:
    return {
        "test_id": "tests/test_chat.py::test_stream",
        "request": {
            "method": "POST",
            "url": "http://h/v1/chat/completions",
            "headers": {},
            "body": {"stream": True},
        },
        "response": {
            "body": chunks,
            "is_streaming": streaming,
            "sse_done": True,
            "status": 200,
            "headers": {},
            **(extra or {}),
        },
    }


def _body_lines(text: str) -> list[str]:
    lines = text.split("\n")  # (not splitlines(): "\x85" and "\u2028" are text in a string)
    start = lines.index('    "body": [')
    end = lines.index("    ],", start)
    return lines[start + 1 : end]


def test_a_streams_chunks_are_written_one_envelope_per_line() -> None:
    chunks = [
        {
            "__type__": "openai.types.chat.chat_completion_chunk.ChatCompletionChunk",
            "__data__": {"id": "rec-1", "choices": [{"delta": {"content": c}}]},
        }
        for c in ("Hel", "lo", "")
    ]
    text = CODEC.serialize(_document(chunks))
    lines = _body_lines(text)
    assert len(lines) == len(chunks)
    assert [json.loads(line.strip().rstrip(",")) for line in lines] == chunks
    assert lines[0] == (  # compact, as the wire has JSON
        '      {"__type__":"openai.types.chat.chat_completion_chunk.ChatCompletionChunk",'
        '"__data__":{"id":"rec-1","choices":[{"delta":{"content":"Hel"}}]}},'
    )
    # everything else keeps the indented layout
    assert text.startswith(
        '{\n  "test_id": "tests/test_chat.py::test_stream",\n  "request": {\n    "method": "POST",'
    )
    assert text.endswith('    "status": 200,\n    "headers": {}\n  }\n}\n')


def test_a_document_that_is_no_stream_is_written_indented() -> None:
    document = _document([{"a": 1}, {"b": [1, 2]}], streaming=False)
    assert CODEC.serialize(document) == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    empty = _document([])
    assert CODEC.serialize(empty) == json.dumps(empty, indent=2, ensure_ascii=False) + "\n"


@given(st.lists(_CHUNK | _JSON, max_size=6), st.dictionaries(st.text(max_size=6), _JSON, max_size=3))
def test_the_layout_changes_only_whitespace_and_is_stable(chunks: list[Any], extra: dict[str, Any]) -> None:
    document = _document(chunks, {k: v for k, v in extra.items() if k not in ("body", "is_streaming")})
    text = CODEC.serialize(document)
    assert parse(text) == document  # strict JSON, the same document
    assert CODEC.serialize(parse(text)) == text  # a re-record writes the same bytes
    pretty = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    assert _LAYOUT.sub("", text) == _LAYOUT.sub("", pretty)  # only the layout's spaces and line breaks differ
    text.encode("utf-8")
    if chunks:
        assert len(_body_lines(text)) == len(chunks)


def test_half_an_emoji_in_a_chunk_is_written_with_ascii_escapes() -> None:
    document = _document([{"__type__": "T", "__data__": {"content": "half \ud83d, é"}}])
    text = CODEC.serialize(document)
    text.encode("utf-8")
    assert CODEC.deserialize(text) == document
    assert len(_body_lines(text)) == 1


_ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=6)


@given(
    st.lists(
        st.one_of(_CHUNK, st.dictionaries(_ANY_TEXT, _ANY_TEXT, max_size=3), _ANY_TEXT, _SCALARS),
        min_size=1,
        max_size=5,
    ),
    st.integers(0, 5),
)
def test_a_rendered_stream_writes_the_same_file(chunks: list[Any], rendered: int) -> None:
    """A recording being made keeps its stream as lines (``layout.render``); the file is the same,
    whatever part was rendered, lone surrogates (written with ASCII escapes) included."""
    document = _document(chunks)
    expected = layout.dumps(document)
    partly = _document(list(chunks))
    layout.render(partly)
    partly["response"]["body"][rendered:] = chunks[rendered:]  # (some chunks still parsed)
    assert all(type(line) is layout.Line for line in partly["response"]["body"][:rendered])
    assert layout.dumps(partly) == expected
    layout.render(partly)
    assert layout.dumps(partly) == expected


def test_render_leaves_a_document_that_is_not_a_stream_alone() -> None:
    document = _document([{"a": 1}], streaming=False)
    layout.render(document)
    assert document["response"]["body"] == [{"a": 1}]


def test_a_rendered_stream_with_a_lone_surrogate_is_written_with_ascii_escapes() -> None:
    chunks: list[Any] = [{"a": "é"}, {"b": "\ud800"}]
    expected = layout.dumps(_document(chunks))
    assert expected.isascii() and "\\u00e9" in expected
    rendered = _document([dict(chunk) for chunk in chunks])
    layout.render(rendered)
    assert layout.dumps(rendered) == expected
