"""Recordings are untrusted input: strict JSON, and the checks a recording must pass to load.

A recording may come from a pull request that only touches ``cassettes/``. Whatever replay will
use is checked when the file is loaded, so that a corrupt file fails then, with a
:class:`~llama_vcr.RecordingError` naming the file and the field
(``response.status: 'OK' is not an HTTP status code``), and never later: not as a raw Python
exception, nor deep inside an SDK while the lazily built wire bytes are replayed.

- :func:`parse`: JSON text -> value, refusing what :func:`json.loads` lets through: duplicate keys,
  ``NaN`` / ``Infinity``, nesting deeper than :data:`MAX_DEPTH`, integers with more digits than
  Python converts (and never letting a ``RecursionError`` out).
- :func:`check_recording`: the types of every field a llama-vcr or llama-stack file has, before
  :func:`~llama_vcr.format.llama_stack.from_llama_stack` reads it.
- :func:`check_replay`: what ``codec.decode`` and the wire framing need, once the document is in
  llama-vcr's layout: HTTP status and headers, the shape of every stored value (envelopes, text,
  base64 bytes, stream events), JSON objects where an SDK expects typed objects.

The checks are hand-written and touch only the fields replay uses (the JSON Schema, which
``llama-vcr verify`` applies, is too slow to run for every file a test loads). Unknown fields are
allowed (llama-stack files carry some).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import sys
from collections.abc import Mapping
from itertools import chain, compress
from typing import Any, NoReturn
from urllib.parse import urlsplit

from .envelopes import DATA_KEY, TYPE_KEY, UNTYPED_KEY
from .framing import FRAMINGS
from .sdk_build import REASONS
from .transport import check_transport_error
from .wire import BYTES_KEY, EVENT_KEY, TEXT_KEY, RecordingFormatError

#: Deepest nesting of arrays and objects a recording may have (the document itself is level 1).
#: Far beyond any API payload, and far below what recursive code (the SDKs' parsers and models,
#: llama-vcr's canonical form, the JSON Schema validator) can take without a ``RecursionError``.
MAX_DEPTH = 100

_MARKERS = frozenset({TYPE_KEY, DATA_KEY, TEXT_KEY, BYTES_KEY, EVENT_KEY, UNTYPED_KEY})
_ENVELOPE_KEYS = frozenset({TYPE_KEY, DATA_KEY, EVENT_KEY, UNTYPED_KEY})
_TEXT_KEYS = frozenset({TEXT_KEY, EVENT_KEY})
_BYTES_KEYS = frozenset({BYTES_KEY})
_TYPED = frozenset({TYPE_KEY, DATA_KEY})
_METHOD = re.compile(r"[A-Z]+")
#: A URL as stored: printable ASCII, no spaces (clients percent-encode everything else).
_URL_CHARS = re.compile(r"[!-~]+")
#: Header names: RFC 9110 tokens. Values: printable ASCII, spaces and tabs (httpx refuses non-ASCII).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t -~]*")
_LINE_BREAK = re.compile(r"[\r\n]")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")  # (header names read better dotted too)


def _fail(where: str, problem: str) -> NoReturn:
    raise RecordingFormatError(f"{where}: {problem}" if where else problem)


def _at(where: str, key: str | int) -> str:
    """The path of ``key`` inside ``where``: ``response.body[0].__data__``."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    if _IDENTIFIER.fullmatch(key):
        return f"{where}.{key}" if where else key
    return f"{where}[{_show(key)}]"


def _show(value: Any, limit: int = 60) -> str:
    """A short ``repr`` (control characters escaped, so a message is safe to print)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


# --- strict JSON -----------------------------------------------------------------------------------


class _Refused(Exception):
    """A duplicate key or a non-standard constant: :func:`_explain` finds where, off the fast path."""


def _constant(name: str) -> Any:
    raise _Refused


def _strict() -> json.JSONDecoder:
    """A decoder refusing duplicate keys and ``NaN`` / ``Infinity`` (:class:`_Refused`), whose
    objects share one string per equal value: a stream's 100,000 chunks repeat their type name,
    model and ids (a third of its parsed size). One per parse: the strings are not kept after."""
    strings: dict[str, str] = {}
    intern = strings.setdefault

    def pairs(pairs: list[tuple[str, Any]], _dict: Any = dict, _len: Any = len, _str: Any = str) -> Any:
        obj = _dict(pairs)
        if _len(obj) != _len(pairs):
            raise _Refused
        for key, value in pairs:
            if type(value) is _str:
                obj[key] = intern(value, value)
        return obj

    return json.JSONDecoder(object_pairs_hook=pairs, parse_constant=_constant)


def parse(text: str) -> Any:
    """The JSON value of ``text``; raises :class:`RecordingFormatError` saying what and where."""
    if text.startswith("\ufeff"):
        raise RecordingFormatError(
            "not valid JSON: the file starts with a byte order mark (save it as UTF-8 without)"
        )
    refused = too_deep = False
    try:
        value = _strict().decode(text)
    except _Refused:
        refused = True
    except RecursionError:  # deeper than the C parser goes (~1,000 levels)
        too_deep = True
    except json.JSONDecodeError as exc:
        raise RecordingFormatError(f"not valid JSON: {exc}") from None
    except ValueError:  # int() refuses a number with more digits than its limit
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
        raise RecordingFormatError(f"not valid JSON: a number with more than {limit} digits") from None
    if refused:
        _explain(text)
    if too_deep or (text.count("[") + text.count("{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH)):
        _too_deep(text)
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels deep: level by level, iterating
    in C (``chain``, ``compress``) over every value of the level's containers."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        items = list(chain.from_iterable([item.values() if type(item) is dict else item for item in level]))
        level = list(compress(items, map(_IS_CONTAINER, map(type, items))))
    return False


_IS_CONTAINER = frozenset({dict, list}).__contains__


class _Duplicate(dict):  # type: ignore[type-arg]
    key: str = ""


class _Constant:
    def __init__(self, name: str) -> None:
        self.name = name


def _marking_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    marked = _Duplicate(obj)
    marked.key = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
    return marked


def _explain(text: str) -> NoReturn:
    """Raise the error for the first duplicate key or ``NaN``/``Infinity`` in ``text``, with its path."""
    try:
        value = json.JSONDecoder(object_pairs_hook=_marking_pairs, parse_constant=_Constant).decode(text)
    except RecursionError:
        _too_deep(text)
    except ValueError as exc:  # (the first problem was a duplicate or a constant: never expected)
        raise RecordingFormatError(f"not valid JSON: {exc}") from None
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:  # depth first, in document order
        where, item = stack.pop()
        if isinstance(item, _Constant):
            _fail(where, f"{item.name} is not a JSON number")
        if isinstance(item, _Duplicate):
            _fail(where or "the top-level object", f"duplicate key {_show(item.key)}")
        if isinstance(item, dict):
            stack.extend((_at(where, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((_at(where, index), child) for index, child in reversed(list(enumerate(item))))
    raise RecordingFormatError("not valid JSON: a duplicate key or a NaN/Infinity")  # (not reached)


_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]', re.DOTALL)


def _too_deep(text: str) -> NoReturn:
    """Raise the error for nesting deeper than :data:`MAX_DEPTH`, naming where it starts."""
    frames: list[list[Any]] = []  # [kind, key or index] per open array/object
    last_string = ""
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            if len(frames) >= MAX_DEPTH:
                parts = [frame[1] for frame in frames[:6] if frame[1] is not None]
                where = ""
                for part in parts:
                    where = _at(where, part)
                where = (where or "the document") + ("…" if len(frames) > 6 else "")
                _fail(where, f"arrays and objects nested more than {MAX_DEPTH} levels deep")
            frames.append([token, 0 if token == "[" else None])
        elif token in "]}":
            if frames:
                frames.pop()
        elif token == ",":
            if frames:
                frames[-1][1] = frames[-1][1] + 1 if frames[-1][0] == "[" else None
        elif token == ":":
            if frames and frames[-1][0] == "{":
                try:
                    frames[-1][1] = json.loads(last_string)
                except ValueError:
                    frames[-1][1] = last_string
        else:
            last_string = token
    _fail("", f"arrays and objects nested more than {MAX_DEPTH} levels deep")


# --- fields -------------------------------------------------------------------------------------------


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        _fail(where, f"{_show(value)} is {_kind(value)}, not a string")
    return value


def _encodable(text: str, where: str) -> None:
    """Text replay writes as UTF-8: a lone surrogate (``"\\ud800"`` in the file) cannot be."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            _fail(where, f"contains a lone surrogate ({_show(text[exc.start])}), which is not text")


def _optional(mapping: Mapping[str, Any], key: str, where: str, *types: type) -> None:
    """``mapping[key]``, if there, is one of ``types`` (a boolean is no number)."""
    if key not in mapping:
        return
    value = mapping[key]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        wanted = " or ".join(dict.fromkeys("null" if t is type(None) else _kind(t()) for t in types))
        _fail(_at(where, key), f"{_show(value)} is {_kind(value)}, not {wanted}")


def _status(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        _fail(where, f"{_show(value)} is not an HTTP status code")


def _headers(headers: Any, where: str, *, wire: bool) -> None:
    """Headers: ``{name: value or [values]}``. ``wire``: served to an HTTP client, so RFC 9110
    names and printable ASCII values (httpx refuses anything else)."""
    if headers is None:
        return
    if not isinstance(headers, dict):
        _fail(where, f"{_show(headers)} is {_kind(headers)}, not an object of header names to values")
    for name, value in headers.items():
        field = _at(where, name)
        if wire and not _HEADER_NAME.fullmatch(name):
            _fail(field, f"{_show(name)} is not an HTTP header name")
        values = value if isinstance(value, list) else [value]
        if not values:
            _fail(field, "an empty list of values")
        for index, item in enumerate(values):
            at = _at(field, index) if isinstance(value, list) else field
            if not isinstance(item, str):
                _fail(at, f"{_show(item)} is {_kind(item)}, not a header value (a string)")
            if wire and not _HEADER_VALUE.fullmatch(item):
                _fail(at, f"{_show(item)} is not an HTTP header value (printable ASCII)")


def _base64(value: Any, where: str) -> None:
    if not isinstance(value, str):
        _fail(where, f"{_show(value)} is {_kind(value)}, not a base64 string")
    valid = len(value) % 4 == 0 and _BASE64.fullmatch(value) is not None
    if valid:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            valid = False
    if not valid:
        _fail(where, f"{_show(value)} is not valid base64")


def _url(value: Any, where: str, *, absolute: bool) -> str:
    url = _string(value, where)
    if not _URL_CHARS.fullmatch(url):
        _fail(where, f"{_show(url)} is not a URL (printable ASCII with no spaces)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises)
    except ValueError as exc:
        _fail(where, f"{_show(url)} is not a URL ({exc})")
    if absolute and (parts.scheme not in ("http", "https") or not parts.hostname):
        _fail(where, f"{_show(url)} is not an http:// or https:// URL")
    return url


# --- the document -----------------------------------------------------------------------------------


def check_recording(document: Any) -> None:
    """The types of the fields of a recording as read (llama-vcr's layout or llama-stack's).

    Raises :class:`RecordingFormatError` naming the field. Tool-runtime files (no ``url`` and no
    ``method``) pass, for :func:`~llama_vcr.format.llama_stack.from_llama_stack` to refuse.
    """
    if not isinstance(document, dict) or not isinstance(document.get("request"), dict):
        raise RecordingFormatError("not a recording: no 'request' object")
    if not isinstance(document.get("response"), dict):
        raise RecordingFormatError("not a recording: no 'response' object")
    _optional(document, "test_id", "", str, type(None))
    _optional(document, "sdk", "", str)
    _optional(document, "recorded_at", "", str, int, float)  # (an ISO date; epoch seconds are read too)
    if document.get("recorded_at") in (math.inf, -math.inf):  # (1e999: valid JSON, no date)
        _fail("recorded_at", f"{document['recorded_at']!r} is not a date")
    for key in ("occurrence", "position"):  # (absent: the first / no recorded position)
        number = document.get(key, 1)
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            _fail(key, f"{_show(number)} is not a positive integer")
    request: dict[str, Any] = document["request"]
    response: dict[str, Any] = document["response"]
    legacy = "status" not in response or "payload" in request
    if "url" in request or "method" in request or not legacy:  # (llama-stack's tool calls have neither)
        for key in ("method", "url"):
            if key not in request:
                _fail(_at("request", key), "missing")
        if not _METHOD.fullmatch(_string(request["method"], "request.method")):
            _fail("request.method", f"{_show(request['method'])} is not an HTTP method (upper-case letters)")
        _url(request["url"], "request.url", absolute=False)
    _optional(request, "endpoint", "request", str, type(None))
    _optional(request, "model", "request", str, type(None))
    _headers(request.get("headers"), "request.headers", wire=False)
    body = request.get("body")
    if isinstance(body, str):
        _encodable(body, "request.body")
    elif isinstance(body, dict):
        if set(body) == {BYTES_KEY}:
            _base64(body[BYTES_KEY], _at("request.body", BYTES_KEY))
        elif legacy:  # llama-stack recorded SDK kwargs: the SDK merges extra_body into the body
            _optional(body, "extra_body", "request.body", dict, type(None))
    _optional(response, "is_streaming", "response", bool)
    _optional(response, "sse_done", "response", bool)
    if response.get("framing", "sse") not in FRAMINGS:
        _fail("response.framing", f"{_show(response['framing'])} is not 'sse' or 'ndjson'")
    check_transport_error(response)
    if "status" in response:
        _status(response["status"], "response.status")
    _headers(response.get("headers"), "response.headers", wire=True)
    _optional(response, "is_exception", "response", bool)
    _optional(response, "exception_message", "response", str, type(None))
    _optional(response, "exception_data", "response", dict, type(None))
    error = response.get("exception_data")
    if isinstance(error, dict) and error.get("status_code") is not None:
        _status(error["status_code"], "response.exception_data.status_code")


def check_replay(document: Mapping[str, Any], *, ndjson: bool, typed: bool) -> None:
    """What replay needs of a document in llama-vcr's layout (after llama-stack files are read).

    ``ndjson``: the stream is framed as NDJSON, not Server-Sent Events. ``typed``: the endpoint
    answers with SDK objects (it has a type rule and the status is not an error), so every value
    must be a JSON object (or text the server sent instead).
    """
    request, response = document["request"], document["response"]
    _url(request["url"], "request.url", absolute=True)
    for key in ("body", "is_streaming"):
        if key not in response:
            _fail(_at("response", key), "missing")
    if not isinstance(response["is_streaming"], bool):
        _fail("response.is_streaming", f"{_show(response['is_streaming'])} is not a boolean")
    _status(response.get("status", 200), "response.status")
    _headers(response.get("headers"), "response.headers", wire=True)
    body = response["body"]
    if not response["is_streaming"]:
        _check_value(body, "response.body", typed)
        return
    if not isinstance(body, list):
        what = f"{_show(body)} is {_kind(body)}"
        _fail("response.body", f"{what}: a streaming response's 'body' must be a list of chunks")
    for index, chunk in enumerate(body):
        _check_chunk(chunk, f"response.body[{index}]", ndjson=ndjson, typed=typed)


def _check_value(value: Any, where: str, typed: bool) -> None:
    """A stored non-streaming body: an envelope, text, base64 bytes, or plain JSON (a page's
    ``data`` items may be envelopes)."""
    if not isinstance(value, dict):
        if typed:
            _fail(where, f"{_show(value)} is {_kind(value)}, not the JSON object the SDK expects")
        return
    if not value.keys() & _MARKERS:
        items = value.get("data")
        if isinstance(items, list):
            for index, item in enumerate(items):
                if isinstance(item, dict) and (TYPE_KEY in item or DATA_KEY in item):  # (unwrapped)
                    _check_envelope(item, _at(_at(where, "data"), index), False, allowed=_ENVELOPE_KEYS)
        return
    if BYTES_KEY in value:
        _only(value, _BYTES_KEYS, where)
        _base64(value[BYTES_KEY], _at(where, BYTES_KEY))
    elif TEXT_KEY in value:
        _check_text(value, where, ndjson=False)
    elif DATA_KEY in value or TYPE_KEY in value or UNTYPED_KEY in value:
        _check_envelope(value, where, typed, allowed=_ENVELOPE_KEYS)
    else:  # only "__event__": plain JSON, served as it is
        return


def _check_chunk(chunk: Any, where: str, *, ndjson: bool, typed: bool) -> None:
    """One stored stream event (SSE) or line (NDJSON)."""
    if type(chunk) is dict and chunk.keys() == _TYPED:  # the usual chunk: an envelope
        if (typed and type(chunk[DATA_KEY]) is not dict) or type(chunk[TYPE_KEY]) is not str:
            _check_envelope(chunk, where, typed, allowed=_ENVELOPE_KEYS, untyped_event=True)
        return
    if not isinstance(chunk, dict):
        if typed:
            _fail(where, f"{_show(chunk)} is {_kind(chunk)}, not the JSON object the SDK expects of a chunk")
        return
    if not chunk.keys() & _MARKERS:
        return
    if EVENT_KEY in chunk:
        event = _string(chunk[EVENT_KEY], _at(where, EVENT_KEY))
        if _LINE_BREAK.search(event):
            _fail(_at(where, EVENT_KEY), f"{_show(event)}: an event name cannot contain a line break")
        _encodable(event, _at(where, EVENT_KEY))
    if BYTES_KEY in chunk:
        _fail(_at(where, BYTES_KEY), "a stream chunk cannot be bytes (only a JSON value or __text__)")
    if TEXT_KEY in chunk:
        _check_text(chunk, where, ndjson=ndjson)
    elif DATA_KEY in chunk or TYPE_KEY in chunk or UNTYPED_KEY in chunk:
        _check_envelope(chunk, where, typed, allowed=_ENVELOPE_KEYS, untyped_event=True)


def _only(value: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    if not value.keys() <= allowed:
        extra = min(key for key in value if key not in allowed)
        _fail(where, f"unexpected key {_show(extra)} next to {', '.join(sorted(allowed))}")


def _check_text(value: Mapping[str, Any], where: str, *, ndjson: bool) -> None:
    _only(value, _TEXT_KEYS, where)
    text = _string(value[TEXT_KEY], _at(where, TEXT_KEY))
    if ndjson and _LINE_BREAK.search(text):
        _fail(_at(where, TEXT_KEY), "an NDJSON line cannot contain a line break")
    _encodable(text, _at(where, TEXT_KEY))


def _check_envelope(
    value: Mapping[str, Any], where: str, typed: bool, *, allowed: frozenset[str], untyped_event: bool = False
) -> None:
    """``{"__type__", "__data__"}`` (``"__event__"`` too, in a stream); in a stream an event with no
    type is ``{"__data__", "__event__"}``; a JSON object the SDK builds no class from is
    ``{"__data__": {…}, "__untyped__": "<reason>"}`` (``"__event__"`` too, in a stream)."""
    _only(value, allowed, where)
    if DATA_KEY not in value:
        _fail(where, f"an envelope with {TYPE_KEY!r} needs {DATA_KEY!r}")
    if UNTYPED_KEY in value:
        if TYPE_KEY in value:
            _fail(where, f"{UNTYPED_KEY!r} (why a value has no type) next to {TYPE_KEY!r}")
        reason = value[UNTYPED_KEY]
        _string(reason, _at(where, UNTYPED_KEY))
        if reason not in REASONS:
            _fail(_at(where, UNTYPED_KEY), f"{_show(reason)} is not one of {', '.join(sorted(REASONS))}")
        data = value[DATA_KEY]
        if not isinstance(data, dict):
            _fail(_at(where, DATA_KEY), f"{_show(data)} is {_kind(data)}, not a JSON object")
    elif TYPE_KEY in value:
        type_name = value[TYPE_KEY]
        if type_name is not None and not isinstance(type_name, str):
            _fail(_at(where, TYPE_KEY), f"{_show(type_name)} is {_kind(type_name)}, not a class name")
    elif not (untyped_event and EVENT_KEY in value):
        _fail(where, f"{DATA_KEY!r} without {TYPE_KEY!r}" + (f" or {EVENT_KEY!r}" if untyped_event else ""))
    data = value[DATA_KEY]
    if typed and not isinstance(data, dict):
        _fail(_at(where, DATA_KEY), f"{_show(data)} is {_kind(data)}, not the JSON object the SDK expects")
