"""The recording format codec: one vcrpy interaction <-> one llama-stack style JSON document.

``encode`` turns a vcrpy ``(Request, response dict)`` pair into the document that a recording
file holds; ``decode`` turns a document back into the pair vcrpy replays. ``dumps``/``loads``
are the text side. See ``docs/recording-format.md`` for the format itself.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import json.encoder
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from vcr.request import Request

from ._canonical import DEFAULT_CANONICALIZER, Canonicalizer, endpoint_of, request_hash
from ._compat import NotReplayableError, from_llama_stack
from ._normalize import REQUEST_ID_HEADERS, IdMap, Normalizer, request_strings
from ._redact import SDK_ATTR, Redactor, sdk_of
from ._types import DATA_KEY, REGISTRY, TypeRegistry, TypeRule, envelope, is_envelope, unwrap

TEXT_KEY = "__text__"
BYTES_KEY = "__bytes__"
EVENT_KEY = "__event__"
SSE_DONE = "[DONE]"

#: Response headers a recording keeps: the ones SDKs read (all else is dropped).
KEPT_RESPONSE_HEADERS = frozenset(
    {"content-type", "x-request-id", "request-id", "retry-after", "retry-after-ms", "x-should-retry"}
)


class RecordingFormatError(ValueError):
    """A document that is not a valid recording."""


def stable_base(digest: str, occurrence: int = 1) -> str:
    """The stable id a recording's first response id becomes: ``rec-<12 hex>[_<occurrence>]``."""
    return f"rec-{digest[:12]}" if occurrence == 1 else f"rec-{digest[:12]}_{occurrence}"


def recording_name(document: Mapping[str, Any]) -> str:
    """The file name a recording's content derives (``<sha256>.json``, ``<sha256>-<n>.json``)."""
    request = document["request"]
    digest = request_hash(
        request["method"], endpoint_of(request["url"]), request["body"], document["test_id"]
    )
    occurrence = document.get("occurrence", 1)
    return f"{digest}.json" if occurrence == 1 else f"{digest}-{occurrence}.json"


# --- response bodies -------------------------------------------------------------------------------


def _decode_content(body: bytes, encoding: str) -> bytes:
    for coding in reversed([c.strip().lower() for c in encoding.split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip"):
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:
                body = zlib.decompress(body, -zlib.MAX_WBITS)
        elif coding == "br":
            import brotli  # type: ignore[import-not-found]  # only reached if a server sent br

            body = brotli.decompress(body)
        elif coding != "identity":
            raise RecordingFormatError(f"cannot decode Content-Encoding {coding!r}")
    return body


def _raw_value(data: bytes, content_type: str) -> Any:
    """A body that is not typed: JSON if it says so and parses, else text, else base64."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {BYTES_KEY: base64.b64encode(data).decode("ascii")}
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return {TEXT_KEY: text}


def _without_boundary(headers: dict[str, Any]) -> dict[str, Any]:
    """Request headers with a multipart boundary (random per request) left out."""
    content_type = headers.get("content-type")
    if isinstance(content_type, str) and "boundary=" in content_type:
        headers["content-type"] = content_type.split(";", 1)[0]
    return headers


def _is_marked(value: Any) -> bool:
    return isinstance(value, dict) and (TEXT_KEY in value or BYTES_KEY in value)


def _iter_sse(text: str) -> Iterator[tuple[str | None, str]]:
    """(event name, data) per Server-Sent Event; comments, ``id:`` and ``retry:`` are dropped."""
    event: str | None = None
    data: list[str] = []
    for line in text.splitlines():
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif line.startswith("event:"):
            event = line[6:].strip()
    if data:
        yield event, "\n".join(data)


def _encode_stream(text: str, rule: TypeRule | None) -> tuple[list[Any], bool]:
    chunks: list[Any] = []
    done = False
    chunk_type = rule.chunk if rule else None
    for event, data in _iter_sse(text):
        if data == SSE_DONE:
            done = True
            continue
        try:
            item = envelope(json.loads(data), chunk_type)
        except ValueError:
            item = {TEXT_KEY: data}
        if event is not None:
            item = dict(item) if is_envelope(item) or _is_marked(item) else {DATA_KEY: item}
            item[EVENT_KEY] = event
        chunks.append(item)
    return chunks, done


def _ndjson_value(line: str, chunk_type: str | None) -> Any:
    try:
        return envelope(json.loads(line), chunk_type)
    except ValueError:
        return {TEXT_KEY: line}


def _ndjson_bytes(chunks: list[Any]) -> bytes:
    return b"".join(_body_bytes(chunk) + b"\n" for chunk in chunks)


def _encode_json(value: Any, rule: TypeRule | None) -> Any:
    if rule is None:
        return value
    if rule.items and isinstance(value, dict) and isinstance(value.get("data"), list):
        return {**value, "data": [envelope(item, rule.items) for item in value["data"]]}
    return envelope(value, rule.body)


_WIRE_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The C encoder, built once (json.dumps builds a new one per call: half the cost of a small chunk).
_C_ENCODER = (
    json.encoder.c_make_encoder(
        None, _WIRE_ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    if json.encoder.c_make_encoder is not None
    else None
)


def _dump_json(value: Any) -> bytes:
    if _C_ENCODER is not None and isinstance(value, (dict, list)):
        return "".join(_C_ENCODER(value, 0)).encode("utf-8")
    return _WIRE_ENCODER.encode(value).encode("utf-8")


def _body_bytes(value: Any) -> bytes:
    """Wire bytes of a stored non-streaming body."""
    if isinstance(value, dict):
        if TEXT_KEY in value:
            return value[TEXT_KEY].encode("utf-8")
        if BYTES_KEY in value:
            return base64.b64decode(value[BYTES_KEY])
        if is_envelope(value):
            value = unwrap(value)
        elif isinstance(value.get("data"), list):
            value = {**value, "data": [unwrap(item) for item in value["data"]]}
    return _dump_json(value)


def _stream_bytes(chunks: list[Any], done: bool) -> bytes:
    out = bytearray()
    for chunk in chunks:
        if isinstance(chunk, dict) and chunk.get(EVENT_KEY) is not None:
            out += b"event: " + chunk[EVENT_KEY].encode("utf-8") + b"\n"
        data = _body_bytes(chunk) if _is_marked(chunk) else _dump_json(unwrap(chunk))
        out += b"data: " + data + b"\n\n"
    if done:
        out += b"data: [DONE]\n\n"
    return bytes(out)


# --- replayed objects ----------------------------------------------------------------------------


class LazyBody(dict):  # type: ignore[type-arg]
    """A vcrpy response body whose wire bytes (``["string"]``) are built when first replayed."""

    def __init__(self, make: Callable[[], bytes]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: str) -> bytes:
        if key != "string":
            raise KeyError(key)
        self["string"] = value = self._make()
        return value

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyBody:
        return self  # built from the file, never mutated: sharing it is safe


class StoredResponse(dict):  # type: ignore[type-arg]
    """A response loaded from a recording; vcrpy deep-copies responses, this one copies shallowly."""

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredResponse:
        return StoredResponse({**self, "headers": {k: list(v) for k, v in self["headers"].items()}})


class StoredRequest(Request):
    """A request loaded from a recording, cheap to copy (vcrpy copies it on every lookup)."""

    @classmethod
    def of(cls, request: Request) -> StoredRequest:
        request.__class__ = cls
        return request  # type: ignore[return-value]

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredRequest:
        clone = copy.copy(self)
        clone.headers = dict(self.headers)  # the only mutable part filters change in place
        return clone


# --- the codec ---------------------------------------------------------------------------------------


def _header_value(values: Any) -> Any:
    if isinstance(values, (list, tuple)):
        return values[0] if len(values) == 1 else list(values)
    return values


@dataclass
class RecordingCodec:
    """The llama-vcr serializer: registered with vcrpy as ``"llama_vcr"``."""

    canonicalizer: Canonicalizer = DEFAULT_CANONICALIZER
    registry: TypeRegistry = field(default_factory=lambda: REGISTRY)
    normalizer: Normalizer = field(default_factory=Normalizer)

    @property
    def redactor(self) -> Redactor:
        return self.canonicalizer.redactor

    # vcrpy's serializer protocol (text <-> data), here for one recording document.
    def serialize(self, document: Mapping[str, Any]) -> str:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    def deserialize(self, text: str) -> dict[str, Any]:
        document = json.loads(text)
        if not isinstance(document, dict) or not isinstance(document.get("request"), dict):
            raise RecordingFormatError("not a recording: no 'request' object")
        if not isinstance(document.get("response"), dict):
            raise RecordingFormatError("not a recording: no 'response' object")
        return document

    def encode(
        self,
        request: Request,
        response: Mapping[str, Any],
        test_id: str | None,
        *,
        ids: IdMap | None = None,
        occurrence: int = 1,
        recorded_at: str | None = None,
    ) -> dict[str, Any]:
        """The document for one interaction: request redacted and canonical, response typed and
        normalised. ``ids`` is the test's id map (new ids are added to it); ``occurrence`` is the
        n-th time this request hash is stored in the test."""
        ids = IdMap() if ids is None else ids
        canonical = self.canonicalizer(request, ids)
        headers = {
            name.lower(): _header_value(values) for name, values in response.get("headers", {}).items()
        }
        body: bytes = response.get("body", {}).get("string", b"") or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        encoding = headers.pop("content-encoding", None)
        if encoding:
            body = _decode_content(body, encoding if isinstance(encoding, str) else ",".join(encoding))
        content_type = str(headers.get("content-type", ""))
        status = int(response.get("status", {}).get("code", 200))
        rule = self.registry.rule_for(canonical.method, canonical.endpoint) if status < 400 else None
        stored: dict[str, Any] = {}
        if content_type.startswith("text/event-stream"):
            chunks, done = _encode_stream(body.decode("utf-8"), rule)
            stored = {"body": chunks, "is_streaming": True, "sse_done": done}
        elif "ndjson" in content_type:
            chunk_type = rule.chunk if rule else None
            lines = body.decode("utf-8").splitlines()
            stored = {
                "body": [_ndjson_value(line, chunk_type) for line in lines if line.strip()],
                "is_streaming": True,
            }
        else:
            value = _raw_value(body, content_type)
            if not _is_marked(value):
                value = _encode_json(value, rule)
            stored = {"body": value, "is_streaming": False}
        kept = {name: value for name, value in headers.items() if name in KEPT_RESPONSE_HEADERS}
        base = stable_base(canonical.hash(test_id), occurrence)
        stored["body"] = self.normalizer.response(
            stored["body"], ids, base, request_strings(canonical.body, canonical.endpoint)
        )
        for name in REQUEST_ID_HEADERS:
            if name in kept:
                kept[name] = f"req_{base}"
        document: dict[str, Any] = {"test_id": test_id}
        if occurrence > 1:
            document["occurrence"] = occurrence
        if recorded_at:
            document["recorded_at"] = recorded_at
        sdk = request.__dict__.get(SDK_ATTR) or sdk_of(request.headers)
        if sdk:
            document["sdk"] = sdk
        document |= {
            "request": {
                "method": canonical.method,
                "url": canonical.url,
                "headers": _without_boundary(self.redactor.headers(request.headers)),
                "body": canonical.body,
                "endpoint": canonical.endpoint,
                "model": canonical.model,
            },
            "response": {**stored, "status": status, "headers": kept},
        }
        return document

    def decode(self, document: Mapping[str, Any]) -> tuple[Request, dict[str, Any]]:
        """The vcrpy ``(Request, response)`` pair a document replays as."""
        try:
            document = from_llama_stack(dict(document))
        except NotReplayableError as exc:
            raise RecordingFormatError(str(exc)) from exc
        req = document["request"]
        raw = req.get("body")
        if raw is None:
            body = None
        elif isinstance(raw, str):
            body = raw.encode("utf-8")
        elif isinstance(raw, dict) and set(raw) == {BYTES_KEY}:
            body = base64.b64decode(raw[BYTES_KEY])
        else:
            body = _dump_json(raw)
        url = req["url"]
        endpoint = req.get("endpoint")
        if endpoint and endpoint != endpoint_of(url):  # llama-stack's ".../v1/v1/..." urls
            parts = urlsplit(url)
            url = urlunsplit((parts.scheme, parts.netloc, endpoint, parts.query, ""))
        request = Request(req["method"], url, body, dict(req.get("headers") or {}))
        resp = document["response"]
        headers = {
            name: value if isinstance(value, list) else [value]
            for name, value in (resp.get("headers") or {}).items()
        }
        if "body" not in resp or not isinstance(resp.get("is_streaming"), bool):
            raise RecordingFormatError("'response' needs 'body' and a boolean 'is_streaming'")
        stored = resp["body"]
        if resp["is_streaming"] and not isinstance(stored, list):
            raise RecordingFormatError("a streaming response's 'body' must be a list of chunks")
        content_type = str((headers.get("content-type") or [""])[0])
        if resp.get("is_streaming") and ("ndjson" in content_type or (not content_type and "/api/" in url)):
            body_of = functools.partial(_ndjson_bytes, stored or [])
            headers.setdefault("content-type", ["application/x-ndjson"])
        elif resp.get("is_streaming"):
            done = bool(resp.get("sse_done", True))
            body_of = functools.partial(_stream_bytes, stored or [], done)
            headers.setdefault("content-type", ["text/event-stream; charset=utf-8"])
        else:
            body_of = functools.partial(_body_bytes, stored)
            headers.setdefault("content-type", ["application/json"])
        status = int(resp.get("status", 200))
        return StoredRequest.of(request), StoredResponse(
            status={"code": status, "message": ""}, headers=headers, body=LazyBody(body_of)
        )


CODEC = RecordingCodec()
