"""The text of a recording file: indented JSON, with a stream's chunks one compact value per line.

A document is written as ``json.dumps(document, indent=2)`` writes it, except for the chunks of a
streamed response (``response.is_streaming`` true, ``response.body`` a non-empty list: SSE events
or NDJSON lines): each is written on a line of its own, compactly (``,`` and ``:``, no spaces), as
the APIs send JSON::

    "body": [
      {"__type__":"openai.types.chat.chat_completion_chunk.ChatCompletionChunk","__data__":{...}},
      {"__type__":"openai.types.chat.chat_completion_chunk.ChatCompletionChunk","__data__":{...}}
    ],

One event per line keeps a stream's file close to its size on the wire and a re-record's diff one
line per changed event (the indented layout took ~22 lines per event, twice the wire bytes). A
chunk's ``__data__`` is then written as the wire writes JSON (after ids are normalised and secrets
redacted), and replay serves that text as it is (:mod:`.stream_lines`). Only whitespace differs
from the indented layout (and from the layout of earlier versions, whose chunk lines had spaces
after ``,`` and ``:``), so files written any of these ways read the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from .wire import compact_encoder

_INDENT = "  "
#: A lone surrogate left in the text (with ``ensure_ascii=False`` it is written raw): no UTF-8 form.
_SURROGATE = re.compile("[\ud800-\udfff]")


#: One chunk's line: compact JSON as the wire has it (one prebuilt encoder).
_LINE = {ascii: compact_encoder(ensure_ascii=ascii) for ascii in (False, True)}


class Line(str):
    """A stream chunk already written as its line (:func:`render`): the file holds it as it is."""

    __slots__ = ()


def render(document: dict[str, Any]) -> None:
    """Replace, in place, each chunk of a streamed document (:func:`_streamed`) by its :class:`Line`:
    the text :func:`dumps` writes for it. A recording being made keeps its stream as text (about
    its size on the wire) instead of parsed objects (about three times that) until it is saved;
    :func:`dumps` writes the same file either way. Any other document is left as it is."""
    if not _streamed(document):
        return
    body = document["response"]["body"]
    line = _LINE[False]
    for index, chunk in enumerate(body):
        if type(chunk) is not Line:
            body[index] = Line(line(chunk))


def _line_of(chunk: Any, line: Callable[[Any], str], ensure_ascii: bool) -> str:
    """A chunk's line; a :class:`Line` is its own (written again from its value for ASCII escapes)."""
    if type(chunk) is Line:
        return line(json.loads(chunk)) if ensure_ascii else chunk
    return line(chunk)


def _streamed(document: Mapping[str, Any]) -> bool:
    response = document.get("response")
    return (
        isinstance(response, dict)
        and response.get("is_streaming") is True
        and isinstance(response.get("body"), list)
        and bool(response["body"])
        and all(isinstance(key, str) for key in document)
        and all(isinstance(key, str) for key in response)
    )


def _nested(value: Any, level: int, ensure_ascii: bool) -> str:
    """``value`` indented as it is ``level`` levels deep (JSON text has no raw line break inside a
    string: every ``\\n`` is layout)."""
    text = json.dumps(value, indent=2, ensure_ascii=ensure_ascii)
    return text.replace("\n", "\n" + _INDENT * level) if level else text


#: Where a streamed document keeps its chunks.
_CHUNKS_AT = ("response", "body")


def _parts(document: Mapping[str, Any], ensure_ascii: bool) -> list[str]:
    """The pieces of the file text of a streamed document (:func:`_streamed`), joined once: a big
    stream's text is built without intermediate copies of it."""
    parts: list[str] = []
    _object_parts(document, 0, _CHUNKS_AT, ensure_ascii, parts)
    parts.append("\n")
    return parts


def _object_parts(
    value: Mapping[str, Any], level: int, path: tuple[str, ...], ensure_ascii: bool, parts: list[str]
) -> None:
    """An object ``level`` levels deep, indented as ``json.dumps(indent=2)`` writes it, except its
    member ``path[0]``: the object holding the rest of ``path``, or, at its end, the chunk list,
    one chunk per line."""
    indent = "\n" + _INDENT * (level + 1)
    parts.append("{")
    for at, (name, item) in enumerate(value.items()):
        parts += ["," if at else "", indent, json.dumps(name, ensure_ascii=ensure_ascii), ": "]
        if name != path[0]:
            parts.append(_nested(item, level + 1, ensure_ascii))
        elif len(path) > 1:
            _object_parts(item, level + 1, path[1:], ensure_ascii, parts)
        else:
            line, first = _LINE[ensure_ascii], indent + _INDENT
            parts.append("[")
            for index, chunk in enumerate(item):  # (a Line is joined as it is: no copy of it)
                parts += ["," + first if index else first, _line_of(chunk, line, ensure_ascii)]
            parts.append(indent + "]")
    parts.append("\n" + _INDENT * level + "}")


def _text(document: Mapping[str, Any], ensure_ascii: bool) -> str:
    if not _streamed(document):
        return json.dumps(document, indent=2, ensure_ascii=ensure_ascii) + "\n"
    return "".join(_parts(document, ensure_ascii))


def dumps(document: Mapping[str, Any]) -> str:
    """The file text of ``document`` (``\\n``-ended): indented JSON, non-ASCII kept as is, a
    stream's chunks one per line (see the module docstring). A document holding a lone surrogate
    (half an emoji in a prompt) is written with ASCII escapes, so the text always encodes as UTF-8.
    Raises ``TypeError`` / ``ValueError`` as ``json.dumps`` does for what JSON cannot hold."""
    text = _text(document, ensure_ascii=False)
    if not text.isascii() and _SURROGATE.search(text):  # (no UTF-8 copy of a big file to find out)
        text = _text(document, ensure_ascii=True)
    return text
