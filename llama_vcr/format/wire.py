"""Response bodies between the wire and a recording: content decoding, SSE and NDJSON framing.

``encode_*`` turn wire bytes into stored values (typed envelopes, plain JSON, ``{"__text__"}``,
``{"__bytes__"}``); ``*_bytes`` turn stored values back into the bytes replay serves.
"""

from __future__ import annotations

import base64
import importlib
import json
import json.encoder
import math
import re
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from ..providers._provider import TypeRule
from .envelopes import DATA_KEY, TYPE_KEY, envelope, is_envelope, unwrap

TEXT_KEY = "__text__"
BYTES_KEY = "__bytes__"
EVENT_KEY = "__event__"
SSE_DONE = "[DONE]"


#: The line breaks of SSE and NDJSON framing; not str.splitlines(), which also breaks on U+2028,
#: U+2029 and U+0085, all legal unescaped inside JSON strings.
LINE_BREAK = re.compile(r"\r\n|\r|\n")
LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")


class RecordingFormatError(ValueError):
    """A document that is not a valid recording."""


def _codec_module(*names: str) -> Any:
    """The first importable of ``names`` (decoders for encodings a client may have asked for)."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise RecordingFormatError(f"cannot decode the response: install one of {', '.join(names)}")


def _codings(encoding: str) -> list[str]:
    """The codings a ``Content-Encoding`` value lists, in the order they were applied."""
    return [coding.strip().lower() for coding in encoding.split(",") if coding.strip()]


def decode_content(body: bytes, encoding: str) -> bytes:
    for coding in reversed(_codings(encoding)):
        if coding in ("gzip", "x-gzip"):
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:
                body = zlib.decompress(body, -zlib.MAX_WBITS)
        elif coding == "br":
            body = _codec_module("brotli", "brotlicffi").decompress(body)
        elif coding == "zstd":
            module = _codec_module("compression.zstd", "backports.zstd", "zstandard")
            if module.__name__ == "zstandard":  # its decompress() needs the size in the frame header
                body = module.ZstdDecompressor().decompressobj().decompress(body)
            else:
                body = module.decompress(body)
        elif coding != "identity":
            raise RecordingFormatError(f"cannot decode Content-Encoding {coding!r}")
    return body


_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _is_text(body: bytes) -> bool:
    """UTF-8 with no control characters but whitespace (what JSON, SSE and NDJSON bodies are)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _CONTROL.search(body) is None


def _compressed_header(body: bytes) -> bool:
    """Whether ``body`` starts as a gzip member or a zlib stream does (RFC 1952, RFC 1950)."""
    gzip = body[:2] == b"\x1f\x8b"
    return gzip or (len(body) >= 2 and body[0] & 0x0F == 8 and ((body[0] << 8) | body[1]) % 31 == 0)


def content_decoded(
    body: bytes, encoding: str, decode: Callable[[bytes, str], bytes] = decode_content
) -> bytes:
    """``body`` without its ``Content-Encoding`` (``decode``: :func:`decode_content`, or
    ``transport.decode_arrived`` for a body cut short).

    Clients that decode for the caller hand vcrpy the decoded body under the original header
    (aiohttp; urllib3 2 is handled in ``_vcrpy.transport``): UTF-8 text that does not start as a
    gzip or zlib stream is taken as decoded for ``gzip`` / ``deflate`` (raw deflate would "inflate"
    it into noise), and for any other coding when it does not decode. Raises
    :class:`RecordingFormatError` for a body that neither decodes nor is text.
    """
    codings = set(_codings(encoding)) - {"identity"}
    if body and codings <= {"gzip", "x-gzip", "deflate"} and not _compressed_header(body) and _is_text(body):
        return body
    try:
        return decode(body, encoding)
    except RecordingFormatError:
        raise
    except Exception:
        if _is_text(body):
            return body
        raise RecordingFormatError(f"the response body does not decode as {encoding!r}") from None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # (1e400: strict JSON cannot write it back)
        raise ValueError(f"{text} does not fit a float")
    return value


def loads_wire(text: str, decoder: json.JSONDecoder | None = None) -> Any:
    """JSON that came over the wire, if a recording can hold it as JSON; ``ValueError`` otherwise.

    A recording is strict JSON in UTF-8 (``format/strict_json.py`` refuses ``NaN``/``Infinity`` and
    the file cannot hold a lone surrogate), so a body with ``-Infinity`` (vLLM logprobs) or half an
    emoji (``"\\ud83d"``) is refused here and stored as ``{"__text__": ...}`` instead: it then
    replays byte for byte. ``decoder``: one from :func:`sharing_decoder`.
    """
    if decoder is None:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    else:
        value = decoder.decode(text)
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise ValueError("a lone surrogate cannot be stored as UTF-8")
    return value


def sharing_decoder() -> json.JSONDecoder:
    """A decoder for :func:`loads_wire` whose objects share one string per equal key and string
    value, across every text it decodes: a stream's chunks repeat their keys, type name, model and
    id (held once, not once per chunk). Its values equal ``json.loads``' (the last of duplicate keys
    wins)."""
    strings: dict[str, str] = {}
    intern = strings.setdefault

    def pairs(pairs: list[tuple[str, Any]], _str: Any = str) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            obj[intern(key, key)] = intern(value, value) if type(value) is _str else value
        return obj

    return json.JSONDecoder(
        object_pairs_hook=pairs, parse_constant=_reject_constant, parse_float=_finite_float
    )


def raw_value(data: bytes, content_type: str) -> Any:
    """A body that is not typed: JSON if it says so and parses, else text, else base64."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {BYTES_KEY: base64.b64encode(data).decode("ascii")}
    if "json" in content_type:
        try:
            return loads_wire(text)
        except ValueError:
            pass
    return {TEXT_KEY: text}


def without_boundary(headers: dict[str, Any]) -> dict[str, Any]:
    """Request headers with a multipart boundary (random per request) left out."""
    content_type = headers.get("content-type")
    if isinstance(content_type, str) and "boundary=" in content_type:
        headers["content-type"] = content_type.split(";", 1)[0]
    return headers


def is_marked(value: Any) -> bool:
    return isinstance(value, dict) and (TEXT_KEY in value or BYTES_KEY in value)


#: Events parsed in one pass (a batch of the stream's text is copied at a time).
_TOGETHER = 1024


def _parsed_together(datas: list[str]) -> list[Any] | None:
    """Every event's data parsed a batch at a time, or None if that fails (one is not JSON, or they
    do not give one value each). The chunks share their keys and repeated string values
    (:func:`sharing_decoder`): a 100,000-chunk stream holds them once, not 100,000 times."""
    if len(datas) < 2:
        return None
    values: list[Any] = []
    decoder = sharing_decoder()
    for start in range(0, len(datas), _TOGETHER):  # (in batches: the stream's text is not copied whole)
        batch = datas[start : start + _TOGETHER]
        try:
            parsed = loads_wire("[" + ",".join(batch) + "]", decoder)
        except (ValueError, RecursionError):
            return None
        if not isinstance(parsed, list) or len(parsed) != len(batch):
            return None
        values += parsed
    return values


def encode_stream(
    events: Iterable[tuple[str | None, str]], rule: TypeRule | None, *, together: bool = False
) -> tuple[list[Any], bool]:
    """``(chunks, done)``: the stored chunks of SSE ``(event name, data)`` pairs (``framing.parse_sse``
    gives them), each typed by ``rule.chunk`` when its data is JSON, else ``{"__text__"}``; ``done``
    if the last event is a bare ``data: [DONE]`` (one elsewhere is kept as a text chunk).

    ``together``: parse all the data in one pass when they are all JSON (:func:`_parsed_together`).
    Joined, an event holding two values (``1, 2``) and one holding part of one could still give one
    value each, shifted: the caller checks that the chunks replay the events (``framing._sse``)
    and encodes again without ``together`` if not."""
    chunks: list[Any] = []
    chunk_type = rule.chunk if rule else None
    pairs = list(events)
    done = bool(pairs) and pairs[-1] == (None, SSE_DONE)
    if done:
        pairs.pop()
    values = _parsed_together([data for _, data in pairs]) if together else None
    for index, (event, data) in enumerate(pairs):
        try:
            value = values[index] if values is not None else loads_wire(data)
            item = _typed_chunk(value, chunk_type, data, event)
        except ValueError:
            item = {TEXT_KEY: data}
        if event is not None:
            item = dict(item) if is_envelope(item) or is_marked(item) else {DATA_KEY: item}
            item[EVENT_KEY] = event
        chunks.append(item)
    return chunks, done


def _typed_chunk(value: Any, chunk_type: str | None, text: str, event: str | None = None) -> Any:
    """A stream chunk's stored value: its envelope; in a typed stream, a JSON value that is no
    object (``data: null``, a string: the SDK expects an object of every chunk, and loading refuses
    anything else) is kept as the text it was (``{"__text__"}``), which replays byte for byte."""
    if chunk_type is not None and not isinstance(value, dict):
        return {TEXT_KEY: text}
    return envelope(value, chunk_type, stream=True, event=event)


def ndjson_value(line: str, chunk_type: str | None) -> Any:
    try:
        return _typed_chunk(loads_wire(line), chunk_type, line)
    except ValueError:
        return {TEXT_KEY: line}


def ndjson_bytes(chunks: list[Any]) -> bytes:
    """NDJSON lines of stored chunks: each value's compact JSON (or its text) and ``\n``."""
    return b"".join((body_bytes(c) if is_marked(c) else line_json(c)) + b"\n" for c in chunks)


#: U+2028, U+2029 and U+0085 in UTF-8: legal unescaped inside a JSON string, but a line reader
#: (httpx ``iter_lines``) breaks lines there.
_SEPARATOR_BYTES = re.compile(b"\xe2\x80[\xa8\xa9]|\xc2\x85")
_ESCAPED = {b"\xe2\x80\xa8": b"\\u2028", b"\xe2\x80\xa9": b"\\u2029", b"\xc2\x85": b"\\u0085"}


def line_json(value: Any) -> bytes:
    """A stored stream value (an envelope or plain JSON) as compact JSON for one line of a stream."""
    return line_safe(dump_json(unwrap(value)))


def line_safe(data: bytes) -> bytes:
    """JSON bytes with U+2028, U+2029 and U+0085 escaped, so that a line reader reads one line
    (a stream body that had them raw is stored as text by ``framing``: it replays byte for byte)."""
    if b"\xc2" in data or b"\xe2" in data:
        data = _SEPARATOR_BYTES.sub(lambda match: _ESCAPED[match.group()], data)
    return data


def encode_json(value: Any, rule: TypeRule | None) -> Any:
    if rule is None:
        return value
    if rule.items and isinstance(value, dict) and isinstance(value.get("data"), list):
        return {**value, "data": [envelope(item, rule.items) for item in value["data"]]}
    return envelope(value, rule.body)


def compact_encoder(
    *, ensure_ascii: bool = False, separators: tuple[str, str] = (",", ":")
) -> Callable[[Any], str]:
    """JSON text of one value (no indent) from one prebuilt C encoder: ``json.dumps`` builds a new
    encoder per call, half the cost of a small chunk. ``separators`` as ``json.dumps`` takes them."""
    encoder = json.JSONEncoder(ensure_ascii=ensure_ascii, separators=separators)
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # (no C accelerator)
        return encoder.encode
    escape = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    item_separator, key_separator = separators
    # (no circular-reference markers: values are parsed JSON, and a shared markers dict could keep
    # stale entries after an error)
    c_encoder = make(None, encoder.default, escape, None, key_separator, item_separator, False, False, True)

    def encode(value: Any) -> str:
        if isinstance(value, (dict, list)):
            return "".join(c_encoder(value, 0))
        return encoder.encode(value)

    return encode


#: Compact JSON as the APIs send it (``,`` and ``:``, non-ASCII as is).
_WIRE_TEXT = compact_encoder()


def dump_json(value: Any) -> bytes:
    """Compact JSON bytes (UTF-8). A lone surrogate (``"\\ud800"`` in a file) has no UTF-8 form: the
    JSON is then written with ``\\uXXXX`` escapes, as the server that sent it must have."""
    text = _WIRE_TEXT(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def body_bytes(value: Any) -> bytes:
    """Wire bytes of a stored non-streaming body."""
    if isinstance(value, dict):
        if TEXT_KEY in value:
            text = value[TEXT_KEY]
            if not isinstance(text, str):
                raise RecordingFormatError(f"'{TEXT_KEY}' must be a string, not {type(text).__name__}")
            return text.encode("utf-8")
        if BYTES_KEY in value:
            return base64.b64decode(value[BYTES_KEY])
        if is_envelope(value):
            value = unwrap(value)
        elif isinstance(value.get("data"), list):
            value = {**value, "data": [unwrap(item) for item in value["data"]]}
    return line_safe(dump_json(value))


_PLAIN_ENVELOPE = frozenset({TYPE_KEY, DATA_KEY})
_BATCH = 2048


def _envelopes_bytes(chunks: list[Any], done: bool) -> bytes | None:
    """:func:`stream_bytes` of a stream of plain envelopes (``{"__type__", "__data__"}`` with a JSON
    object inside: what a typed stream holds) built as one text and encoded once, or None for any
    other stream (or one with a lone surrogate): those take the general path."""
    encode = _WIRE_TEXT
    if not all(
        type(chunk) is dict and chunk.keys() == _PLAIN_ENVELOPE and type(chunk[DATA_KEY]) is dict
        for chunk in chunks
    ):
        return None
    pieces = []
    try:
        for start in range(0, len(chunks), _BATCH):  # (in batches: the text is never whole)
            batch = chunks[start : start + _BATCH]
            text = "".join(["data: " + encode(chunk[DATA_KEY]) + "\n\n" for chunk in batch])
            pieces.append(line_safe(text.encode("utf-8")))  # (only the JSON holds separators)
    except UnicodeEncodeError:
        return None
    if done:
        pieces.append(b"data: [DONE]\n\n")
    return b"".join(pieces)


def stream_bytes(chunks: list[Any], done: bool) -> bytes:
    """Server-Sent Events of stored chunks (checked at load by ``validate.check_replay``). Text that
    spans lines (an event whose ``data:`` lines were joined) is written as one ``data:`` line each."""
    fast = _envelopes_bytes(chunks, done)
    return fast if fast is not None else _stream_bytes_each(chunks, done)


def _stream_bytes_each(chunks: list[Any], done: bool) -> bytes:
    """:func:`stream_bytes`, chunk by chunk: any stored chunk."""
    out = bytearray()
    for chunk in chunks:
        if isinstance(chunk, dict) and chunk.get(EVENT_KEY) is not None:
            out += b"event: " + chunk[EVENT_KEY].encode("utf-8") + b"\n"
        if is_marked(chunk):
            data = body_bytes(chunk)
            if b"\n" in data or b"\r" in data:
                data = b"\ndata: ".join(LINE_BREAK_BYTES.split(data))
        else:
            data = line_json(chunk)  # (JSON text has no line breaks: they are escaped)
        out += b"data: " + data + b"\n\n"
    if done:
        out += b"data: [DONE]\n\n"
    return bytes(out)
