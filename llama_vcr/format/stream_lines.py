"""A streamed recording read line by line: how replay loads a stream without building its chunks.

llama-vcr writes a stream's chunks one per line (:mod:`.layout`), each as compact JSON, the way the
APIs send it::

    {"__type__":"<class>","__data__":{...}}                          an SSE event or NDJSON line
    {"__type__":"<class>","__data__":{...},"__event__":"<name>"}     an SSE event with a name

When every chunk line of a file has one of these forms, :func:`read` checks the file a line at a
time and keeps each chunk's ``__data__`` as the bytes the line holds: replay serves those bytes
(:meth:`StreamLines.wire_bytes`; U+2028, U+2029 and U+0085 escaped, as for any stream, so that a
line reader reads one line), so no chunk is built but to check it, and none is kept. The
chunks are as strictly checked as :func:`.strict_json.parse` and :func:`.validate.check_replay`
check them (valid UTF-8 JSON, no duplicate key, no ``NaN`` / ``Infinity``, no nesting beyond
:data:`.strict_json.MAX_DEPTH`, a class name, a JSON object for the SDK).

:func:`read` refuses nothing and raises nothing itself. A file with any other line, or one a check
fails, gives None, and the caller reads the whole file with :func:`.strict_json.parse`: the
reference, which refuses what is wrong with its path (``response.body[7].__data__: duplicate key
'id'``). So a file loads here only if the reference loads it too, with the same events
(``tests/unit/test_stream_lines.py``: files llama-vcr writes replay the same bytes; any byte edit
is declined or replays the same values).

How the rest of the document is read: the chunk list (from its ``[`` to its ``]``) is replaced by a
string a file cannot be made to hold (:data:`_SENTINEL`: 128 random bits, new in every process)
and that text is read by the reference. If the string lands at ``response.body``, the list was
there: JSON's grammar lets any value take the place of another, so the file is that document with
the chunks as its body.

Costs, for a 100,000-chunk stream (37 MiB): about 0.3 s of CPU (one jiter read of each chunk's
data, its value dropped at once), against 1.2 s to parse the file whole and write its wire bytes
back from the parsed chunks; memory: the chunks' bytes (about their size on the wire), not the
parsed chunks (about three times that).
"""

from __future__ import annotations

import re
import secrets
import sys
from dataclasses import dataclass
from typing import Any

import jiter

from .strict_json import JITER_INT_DIGITS, MAX_DEPTH, collector_paused
from .strict_json import parse as parse_strict
from .wire import SSE_DONE, RecordingFormatError, line_safe

#: Where a stream's chunk list starts and ends in llama-vcr's layout (found, then proven by
#: :data:`_SENTINEL`). The list's ``]`` is found from the end: only the headers follow it.
_RESPONSE = b'\n  "response": {\n'
_LIST_START = b'\n    "body": ['
_LIST_END = b"\n    ]"

#: A chunk line, from its start to its end (the line break, after the comma between chunks; the
#: last line's is followed by the list's ``]``): its class name (no escapes, so its bytes are its
#: text; :func:`~llama_vcr.format.envelopes.check_type` judges it) and what follows ``"__data__":``
#: up to the envelope's ``}``: the data, and the event's name if it has one (:func:`_named`). ``.``
#: is anything but a line break, so a match is one whole line, and :func:`_chunks` matches the
#: lines one after another from the first: they end at the list only if every line matches.
#: (``[^\r\n]`` would refuse a carriage return too, at three times the cost: :func:`_chunks`
#: looks for one once.)
_LINE = re.compile(rb' *\{"__type__":"([A-Za-z_][A-Za-z0-9_.]*)","__data__":(.+)\}(?:,\n|\n(?= *\]))')
#: What follows a chunk's data when its event has a name (a plain token).
_EVENT = b',"__event__":"'
_EVENT_NAME = re.compile(rb'([A-Za-z0-9_.:-]+)"')
#: Levels above a chunk's ``__data__`` value: the document, ``response``, ``body``, the envelope.
_DATA_DEPTH = MAX_DEPTH - 4
#: A random string no file can be made to hold: where the chunk list was, in the text the reference reads.
_SENTINEL = "llama-vcr-stream-" + secrets.token_hex(16)


@dataclass
class StreamLines:
    """A stream's chunks as read from their lines: a loaded document's ``response.body``.

    ``datas``: each chunk's ``__data__`` JSON text, as the file holds it (UTF-8, one line, a JSON
    object); ``events``: each chunk's ``__event__`` name (ASCII), or None for one without; None if
    no chunk has one. ``types``: the ``__type__`` names, each once, in the order first seen.
    """

    datas: list[bytes]
    events: list[bytes | None] | None
    types: list[str]

    def __len__(self) -> int:
        return len(self.datas)

    def wire_bytes(self, *, ndjson: bool, done: bool) -> bytes:
        """The body replay serves: Server-Sent Events (``event: <name>`` when a chunk has one, then
        ``data: <data>``; ``data: [DONE]`` last if ``done``) or, if ``ndjson``, one line per chunk.
        What ``wire.stream_bytes`` / ``wire.ndjson_bytes`` write for the parsed chunks, except that
        a chunk's JSON is the file's own text (the same bytes for every file llama-vcr writes)."""
        datas = self.datas
        tail = b"data: " + SSE_DONE.encode("ascii") + b"\n\n" if done and not ndjson else b""
        if not datas:
            return tail
        parts = list(datas)  # (the ends take the framing: the body is joined once, not copied again)
        if ndjson:
            parts[-1] += b"\n"
            body = b"\n".join(parts)
        elif self.events is None:
            parts[0] = b"data: " + parts[0]
            parts[-1] += b"\n\n" + tail
            body = b"\n\ndata: ".join(parts)
        else:
            pieces = [
                piece
                for data, event in zip(parts, self.events, strict=True)
                for piece in (b"event: " + event + b"\ndata: " if event else b"data: ", data, b"\n\n")
            ]
            pieces.append(tail)
            body = b"".join(pieces)
        return line_safe(body)


def read(data: bytes) -> dict[str, Any] | None:
    """The document of a recording file's bytes, its stream's chunks read line by line (``response.body``
    a :class:`StreamLines`); None for any file this does not read (not a stream in llama-vcr's
    layout, a line in another form, a check failed): the caller parses it whole."""
    if 0 < sys.get_int_max_str_digits() < JITER_INT_DIGITS:  # (jiter would read more digits)
        return None
    response = data.find(_RESPONSE)
    found = data.find(_LIST_START, response) if response >= 0 else -1
    opened = found + len(_LIST_START) - 1  # the list's "["
    closed = data.rfind(_LIST_END) + len(_LIST_END) - 1  # its "]"
    if found < 0 or closed <= opened + 1 or data[opened + 1] != 0x0A:  # ("[" ends its line)
        return None
    skeleton = data[:opened] + b'"' + _SENTINEL.encode("ascii") + b'"' + data[closed + 1 :]
    try:
        document = parse_strict(skeleton)
    except RecordingFormatError:
        return None  # (the reference says what is wrong, with the chunks in place)
    if not (
        isinstance(document, dict)
        and isinstance(document.get("request"), dict)
        and "payload" not in document["request"]  # (llama-stack's layouts are read whole)
        and isinstance(document.get("response"), dict)
        and document["response"].get("body") == _SENTINEL
        and document["response"].get("is_streaming") is True
        and "status" in document["response"]
    ):
        return None
    try:
        with collector_paused():
            chunks = _chunks(data, opened + 2, closed)
    except Exception:  # (never expected: any surprise is the reference's to explain)
        return None
    if chunks is None:
        return None
    document["response"]["body"] = chunks
    return document


def _chunks(data: bytes, first: int, closed: int) -> StreamLines | None:
    """The chunk lines from ``first`` (the first line's start) to the list's ``]`` at ``closed``,
    or None if one is not in a form :func:`read` reads or is refused."""
    last = data.rfind(b"\n", first, closed)  # (the last chunk line's end)
    if last < first or data[last - 1] != 0x7D or data[last + 1 : closed].strip(b" "):
        return None  # (the last line ends with its envelope's "}", then the list's "]")
    if data.find(b"\r", first, last) >= 0:  # (JSON's whitespace, but a line break to SSE)
        return None
    datas: list[bytes] = []
    events: list[bytes | None] | None = None  # (made at the first event with a name)
    types: dict[bytes, None] = {}  # (in the order first seen)
    escapes = data.find(b"\\u", first, last) >= 0
    parse, match, position = jiter.from_json, _LINE.match, first
    while (line := match(data, position, closed + 1)) is not None:  # (one whole line: see _LINE)
        position = line.end()
        name, value = line.group(1, 2)
        if name not in types:
            types[name] = None
        if value[-1] != 0x7D:  # not the data object's "}": an event name follows it
            value, event = _named(value)
            if value is None:
                return None
            if events is None:
                events = [None] * len(datas)
            events.append(event)
        elif events is not None:
            events.append(None)
        if value.count(b"{") + value.count(b"[") > _DATA_DEPTH:
            return None  # (perhaps only brackets in strings: the reference counts levels)
        try:
            parsed = parse(value, allow_inf_nan=False, catch_duplicate_keys=True, cache_mode="keys")
        except ValueError:
            return None
        if type(parsed) is not dict or (escapes and _foreign_escape(value)):
            return None
        datas.append(value)
    if position != last + 1:  # (a line _LINE does not match)
        return None
    return StreamLines(datas, events, [name.decode("ascii") for name in types])


def _named(value: bytes) -> tuple[bytes | None, bytes | None]:
    """``(data, event name)`` of what follows ``"__data__":`` on a line whose event has a name, or
    ``(None, None)`` if that is not ``<data>,"__event__":"<name>"``."""
    cut = value.rfind(_EVENT)
    named = _EVENT_NAME.fullmatch(value, cut + len(_EVENT)) if cut > 0 else None
    if named is None:
        return None, None
    return value[:cut], named.group(1)


def _foreign_escape(value: bytes) -> bool:
    """Whether ``value`` escapes a character llama-vcr writes as it is (``\\u00e9``: a file written
    with ASCII escapes, or by hand). Such a chunk is read whole, and its JSON written again as the
    wire had it, not served as the file holds it. (A control character, ``\\u001b``, is escaped by
    every writer.) A ``\\u`` after an escaped backslash (``"\\\\u"``, the text ``\\u``) is no escape."""
    at = value.find(b"\\u")
    while at >= 0:
        start = at
        while start and value[start - 1] == 0x5C:  # (the backslashes before it)
            start -= 1
        if (at - start) % 2 == 0 and not value.startswith((b"\\u000", b"\\u001"), at):
            return True
        at = value.find(b"\\u", at + 2)
    return False
