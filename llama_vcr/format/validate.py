"""The checks a recording must pass to load: recordings are untrusted input.

A recording may come from a pull request that only touches ``cassettes/``. Whatever replay will
use is checked when the file is loaded, so that a corrupt file fails then, with a
:class:`~llama_vcr.RecordingError` naming the file and the field
(``response.status: 'OK' is not an HTTP status code``), and never later: not as a raw Python
exception, nor deep inside an SDK while the lazily built wire bytes are replayed.

The text was parsed by :func:`~llama_vcr.format.strict_json.parse` (duplicate keys, ``NaN`` /
``Infinity`` and over-deep nesting refused); this module checks the value:

- :func:`check_recording`: the types of every field a llama-vcr or llama-stack file has, before
  :func:`~llama_vcr.format.llama_stack.from_llama_stack` reads it.
- :func:`check_replay`: what ``codec.decode`` and the wire framing need, once the document is in
  llama-vcr's layout: HTTP status and headers, the shape of every stored value (envelopes, text,
  base64 bytes, stream events), JSON objects where an SDK expects typed objects.

The checks are hand-written and touch only the fields replay uses (the JSON Schema, which
``llama-vcr verify`` applies, is too slow to run for every file a test loads). Unknown fields are
allowed (llama-stack files carry some). Both raise :class:`RecordingFormatError` naming the field.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .envelopes import DATA_KEY, TYPE_KEY, UNTYPED_KEY
from .framing import FRAMINGS
from .sdk_build import REASONS
from .stream_lines import StreamLines
from .strict_json import _at, _fail, _show
from .transport import check_transport_error
from .wire import BYTES_KEY, EVENT_KEY, TEXT_KEY, RecordingFormatError

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
    if isinstance(body, StreamLines):  # (its chunks were checked as they were read)
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
