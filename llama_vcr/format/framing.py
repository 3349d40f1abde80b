"""Which framing a response body has, told from its bytes, and the stored form that replays it.

SDKs parse what they asked for, whatever the ``Content-Type`` says (the openai SDK reads a
``stream=True`` answer as Server-Sent Events even when it is labelled ``application/x-ndjson``), so
the framing is read from the content; the header is kept as recorded, so the client sees the same.
A body is stored as events, lines or one JSON value only when replaying that form gives any SSE or
line parser the same events; anything else is kept as text (or bytes) and replays byte for byte:

===========================================  =============================================  ==========
wire shape                                   stored                                         replay
===========================================  =============================================  ==========
SSE: only ``data:``/``event:`` lines,        list of chunks, ``sse_done``                   same events
comments and blank lines, every event ended
by a blank line
SSE with ``id:``/``retry:``/unknown fields,  ``{"__text__"}``, ``is_streaming`` false       same bytes
an event with no data, a last event with no
blank line after it (the SDKs drop it)
NDJSON: lines, no blank line inside, no      list of lines (JSON values or ``__text__``)    same lines
line-separator character a line reader
splits on (U+2028, U+2029, U+0085, ...)
one JSON value (under a JSON, NDJSON or SSE  the value, ``is_streaming`` false              same value
header; not a multi-line value answering a
streamed request)
anything else; not UTF-8                     ``{"__text__"}``; ``{"__bytes__"}``            same bytes
===========================================  =============================================  ==========

A list is written back as SSE or NDJSON by the header's rule (:func:`header_framing`); where the
content said otherwise, the document says so in ``response.framing`` (``"sse"`` or ``"ndjson"``).
"""

from __future__ import annotations

import base64
import re
from typing import Any, Literal

from .. import providers as _providers
from ..providers._provider import TypeRule
from .wire import (
    BYTES_KEY,
    LINE_BREAK,
    TEXT_KEY,
    dump_json,
    encode_json,
    encode_stream,
    is_marked,
    loads_wire,
    ndjson_value,
    stream_bytes,
)

Framing = Literal["sse", "ndjson"]
SSE: Framing = "sse"
NDJSON: Framing = "ndjson"
#: The response field naming the framing of a stored stream where its header would not.
FRAMING_KEY = "framing"
FRAMINGS: tuple[Framing, ...] = (SSE, NDJSON)

#: One SSE event as the SDKs' decoders give it: (``event:`` name or None, data lines joined by \\n).
Event = tuple[str | None, str]

#: Characters a line reader (httpx ``iter_lines``, which Ollama's client uses) splits lines on
#: besides CR and LF; inside a JSON string they are legal unescaped.
LINE_SEPARATORS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def header_framing(content_type: str, url: str) -> Framing:
    """The framing a stored stream's header implies: NDJSON if the ``content-type`` says so, or if
    there is none and the URL is an NDJSON endpoint (Ollama's ``/api/...``); SSE otherwise."""
    if "ndjson" in content_type or (not content_type and _providers.NDJSON_PATHS.search(url)):
        return NDJSON
    return SSE


def parse_sse(text: str) -> tuple[list[Event], str | None, bool]:
    """``(events, problem, shaped)``: the events the SDKs' SSE decoders (openai, anthropic, the
    WHATWG algorithm) dispatch from ``text``; why the stored events would not replay the same
    (``None`` if they would); and whether ``text`` is SSE at all (a ``data`` line, every other line
    blank, a comment or an SSE field).

    Lines break at CRLF, CR or LF. A problem is an ``id:``, ``retry:`` or unknown field (the SDKs
    keep the id across events; fields are not stored), an event with no ``data`` line (the SDKs
    dispatch it, the WHATWG algorithm does not), or a last event with no blank line after it (the
    SDKs drop it).
    """
    events: list[Event] = []
    event: str | None = None
    data: list[str] = []
    problem: str | None = None
    names: set[str] = set()
    lines = LINE_BREAK.split(text)
    if lines[-1] == "":  # (the text ended with a line break)
        lines.pop()
    for line in lines:
        if not line:
            if event or data:
                if not data:
                    problem = problem or f"the event {event!r} has no data"
                events.append((event, "\n".join(data)))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        names.add(name)
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        else:
            problem = problem or f"a {name[:20]!r} field"
    if event or data:
        problem = problem or "the last event has no blank line after it"
    shaped = "data" in names and names <= {"data", "event", "id", "retry"}
    return events, problem, shaped


def _semantic(events: list[Event]) -> list[tuple[str | None, str]]:
    """Events as an SDK reads them: JSON data compared as the value it parses to."""
    out = []
    for name, data in events:
        try:
            out.append((name, "json:" + dump_json(loads_wire(data)).decode("utf-8")))
        except (ValueError, UnicodeDecodeError):
            out.append((name, "text:" + data))
    return out


def _sse(events: list[Event], rule: TypeRule | None) -> dict[str, Any] | None:
    """The stored stream of ``events``, or None if writing it back would not give the same."""
    chunks, done = encode_stream(events, rule, together=True)
    sent = events[:-1] if done else events
    if not _replays_the_same(chunks, sent):
        chunks, done = encode_stream(events, rule)  # (data parsed together may have shifted)
        if not _replays_the_same(chunks, sent):
            return None
    return {"body": chunks, "is_streaming": True, "sse_done": done}


def _replays_the_same(chunks: list[Any], events: list[Event]) -> bool:
    """Whether each stored chunk, written back (``stream_bytes``) and parsed, is the event it was
    (as an SDK reads it: :func:`_semantic`). One event at a time, so a big stream is not held again
    as bytes, text, events and their JSON: ``stream_bytes`` writes each chunk as a piece that ends
    with a blank line, and the pieces parse alone as they do together (the ``[DONE]`` it adds
    parses as the ``[DONE]`` it stands for)."""
    if len(chunks) != len(events):
        return False
    for chunk, event in zip(chunks, events, strict=True):
        replayed, problem, _ = parse_sse(stream_bytes([chunk], False).decode("utf-8"))
        if problem is not None:
            return False
        if replayed != [event] and _semantic(replayed) != _semantic([event]):
            return False
    return True


def _ndjson(lines: list[str], rule: TypeRule | None, labelled: bool) -> dict[str, Any] | None:
    """The stored NDJSON lines, or None: a blank line (a line reader yields it) or a line-separator
    character (a line reader splits there) cannot be stored; a non-JSON line only under an NDJSON
    header."""
    if not lines or not all(lines) or any(LINE_SEPARATORS.search(line) for line in lines):
        return None
    values = [ndjson_value(line, rule.chunk if rule else None) for line in lines]
    if not labelled and (len(lines) < 2 or any(is_marked(value) for value in values)):
        return None
    return {"body": values, "is_streaming": True}


def encode_body(
    body: bytes, content_type: str, rule: TypeRule | None, *, url: str, streamed: bool
) -> dict[str, Any]:
    """The stored response fields for ``body`` (decoded content): ``body``, ``is_streaming`` and,
    for SSE, ``sse_done``; ``framing`` when the content's framing is not the one
    :func:`header_framing` gives for ``content_type`` and ``url``. ``streamed``: the request asked
    for a stream (its ``"stream": true``). Never raises for any bytes."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"body": {BYTES_KEY: base64.b64encode(body).decode("ascii")}, "is_streaming": False}
    raw = {"body": {TEXT_KEY: text}, "is_streaming": False}
    events, problem, shaped = parse_sse(text)
    if shaped:
        if problem:
            return raw
        del raw, text  # (a big stream is not held as text while its chunks are made; rarely read again)
        stored = _sse(events, rule)
        if stored is None:
            return {"body": {TEXT_KEY: body.decode("utf-8")}, "is_streaming": False}
        return _labelled(stored, SSE, content_type, url)
    lines = LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    labelled = "ndjson" in content_type
    if "json" in content_type or "event-stream" in content_type:
        try:
            value = loads_wire(text)
        except ValueError:
            pass
        else:
            if labelled and len(lines) == 1:
                stored = _ndjson(lines, rule, labelled)
                return raw if stored is None else _labelled(stored, NDJSON, content_type, url)
            if streamed and (len(lines) > 1 or LINE_SEPARATORS.search(text)):
                return raw  # a line reader would read it line by line
            return {"body": encode_json(value, rule), "is_streaming": False}
    if not (streamed or "json" in content_type or "event-stream" in content_type):
        return raw
    stored = _ndjson(lines, rule, labelled)
    return raw if stored is None else _labelled(stored, NDJSON, content_type, url)


def _labelled(stored: dict[str, Any], framing: Framing, content_type: str, url: str) -> dict[str, Any]:
    if header_framing(content_type, url) != framing:
        stored[FRAMING_KEY] = framing
    return stored


__all__ = [
    "FRAMINGS",
    "FRAMING_KEY",
    "LINE_SEPARATORS",
    "NDJSON",
    "SSE",
    "encode_body",
    "header_framing",
    "parse_sse",
]
