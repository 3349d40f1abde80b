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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from vcr.request import Request

from .. import providers as _providers
from .._canonical import DEFAULT_CANONICALIZER, Canonicalizer, endpoint_of
from .._normalize import NAMING_ENDPOINTS, REQUEST_ID_HEADERS, IdMap, Normalizer, request_strings
from .._redact import SDK_ATTR, Redactor, sdk_of
from .envelopes import REGISTRY, TypeRegistry
from .llama_stack import NotReplayableError, from_llama_stack
from .validate import check_recording, check_replay
from .validate import parse as parse_strict
from .wire import (
    BYTES_KEY,
    LINE_BREAK,
    RecordingFormatError,
    body_bytes,
    decode_content,
    dump_json,
    encode_json,
    encode_stream,
    is_marked,
    ndjson_bytes,
    ndjson_value,
    raw_value,
    stream_bytes,
    without_boundary,
)

#: Response headers a recording keeps: the ones SDKs read (all else is dropped).
KEPT_RESPONSE_HEADERS = _providers.KEPT_RESPONSE_HEADERS


def stable_base(digest: str, occurrence: int = 1) -> str:
    """The stable id a recording's first response id becomes: ``rec-<12 hex>[_<occurrence>]``."""
    return f"rec-{digest[:12]}" if occurrence == 1 else f"rec-{digest[:12]}_{occurrence}"


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

    # vcrpy's hooks (filter_sensitive_data...) iterate over a body: build it first
    def _built(self) -> LazyBody:
        _ = self["string"]
        return self

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._built()))

    def items(self) -> Any:
        return dict(self._built()).items()

    def __len__(self) -> int:
        return dict.__len__(self._built())


class StoredResponse(dict):  # type: ignore[type-arg]
    """A response loaded from a recording; vcrpy deep-copies responses, this one copies shallowly."""

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredResponse:
        return StoredResponse({**self, "headers": {k: list(v) for k, v in self["headers"].items()}})


class StoredRequest(Request):
    """A request loaded from a recording, cheap to copy (vcrpy copies it on every lookup)."""

    @classmethod
    def of(cls, request: Request) -> StoredRequest:
        request.__class__ = cls
        return cast(StoredRequest, request)

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredRequest:
        clone = copy.copy(self)
        clone.headers = dict(self.headers)  # the only mutable part filters change in place
        return clone


# --- the codec ---------------------------------------------------------------------------------------


class EncodedDocument(dict):  # type: ignore[type-arg]
    """A document :meth:`RecordingCodec.encode` made; ``scrubbed`` names the secret environment
    variables whose values redaction hid in it (``_store.place`` warns about them)."""

    scrubbed: list[str] = []  # noqa: RUF012 - set per instance by encode


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
        """The file text: indented JSON, non-ASCII kept as is; a document holding a lone surrogate
        (half an emoji in a prompt) is written with ASCII escapes, so the file is always UTF-8."""
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = json.dumps(document, indent=2) + "\n"
        return text

    def deserialize(self, text: str) -> dict[str, Any]:
        """A recording's document from its text: strict JSON (no duplicate keys, ``NaN``, or nesting
        beyond ``validate.MAX_DEPTH``) with a ``request`` and a ``response`` object. Raises
        :class:`RecordingFormatError`; the fields are checked by :meth:`decode`."""
        document = parse_strict(text)
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
        raw: bytes | str = response.get("body", {}).get("string", b"") or b""
        body = raw.encode("utf-8") if isinstance(raw, str) else raw
        encoding = headers.pop("content-encoding", None)
        if encoding:
            body = decode_content(body, encoding if isinstance(encoding, str) else ",".join(encoding))
        content_type = str(headers.get("content-type", ""))
        status = int(response.get("status", {}).get("code", 200))
        rule = self.registry.rule_for(canonical.method, canonical.endpoint) if status < 400 else None
        stored: dict[str, Any] = {}
        try:
            text = body.decode("utf-8") if "event-stream" in content_type or "ndjson" in content_type else ""
        except UnicodeDecodeError:  # a stream that is not UTF-8: kept as bytes, replayed byte for byte
            content_type, text = "", ""
        if content_type.startswith("text/event-stream"):
            chunks, done = encode_stream(text, rule)
            stored = {"body": chunks, "is_streaming": True, "sse_done": done}
        elif "ndjson" in content_type:
            chunk_type = rule.chunk if rule else None
            lines = LINE_BREAK.split(text)
            stored = {
                "body": [ndjson_value(line, chunk_type) for line in lines if line.strip()],
                "is_streaming": True,
            }
        else:
            value = raw_value(body, content_type)
            if not is_marked(value):
                value = encode_json(value, rule)
            stored = {"body": value, "is_streaming": False}
        # the policy that redacted the request (before matching) hides the same secrets here
        redaction = self.redactor.redaction(canonical.secrets)
        stored["body"] = redaction.value(stored["body"])
        kept = redaction.value(
            {name: value for name, value in headers.items() if name in KEPT_RESPONSE_HEADERS}
        )
        base = stable_base(canonical.hash(test_id), occurrence)
        sent = request_strings(canonical.body, canonical.endpoint) | {v for _, v in canonical.query}
        stored["body"] = self.normalizer.response(
            stored["body"], ids, base, sent, map_ids=NAMING_ENDPOINTS.search(canonical.endpoint) is None
        )
        ids.sent |= sent
        if status >= 400:  # an error quotes the live ids it was sent
            stored["body"] = ids.apply_text(stored["body"])
        for name in REQUEST_ID_HEADERS:
            if name in kept:
                kept[name] = f"req_{base}"
        document = EncodedDocument(test_id=test_id)
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
                "headers": redaction.value(without_boundary(self.redactor.headers(request.headers))),
                "body": canonical.body,
                "endpoint": canonical.endpoint,
                "model": canonical.model,
            },
            "response": {**stored, "status": status, "headers": kept},
        }
        document.scrubbed = list(dict.fromkeys([*canonical.scrubbed, *redaction.found]))
        return document

    def decode(self, document: Mapping[str, Any]) -> tuple[Request, dict[str, Any]]:
        """The vcrpy ``(Request, response)`` pair a document replays as.

        Everything replay will use is checked here (``validate``), including what the lazily built
        wire bytes need: a corrupt document raises :class:`RecordingFormatError` naming the field.
        """
        check_recording(document)
        try:
            document = from_llama_stack(dict(document))
        except NotReplayableError as exc:
            raise RecordingFormatError(str(exc)) from exc
        except (LookupError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise RecordingFormatError(
                f"an unexpected llama-stack layout ({type(exc).__name__}: {exc})"
            ) from exc
        req = document["request"]
        url: str = req["url"]
        resp = document["response"]
        headers = {
            name: value if isinstance(value, list) else [value]
            for name, value in (resp.get("headers") or {}).items()
        }
        content_type = str((headers.get("content-type") or [""])[0])
        streaming = resp.get("is_streaming") is True
        ndjson = streaming and (
            "ndjson" in content_type or (not content_type and _providers.NDJSON_PATHS.search(url) is not None)
        )
        status = resp.get("status", 200)
        rule = self.registry.rule_for(req["method"], endpoint_of(url)) if status in range(100, 400) else None
        typed = rule is not None and bool(rule.chunk if streaming else rule.body or rule.items)
        check_replay(document, ndjson=ndjson, typed=typed)
        raw = req.get("body")
        if raw is None:
            body = None
        elif isinstance(raw, str):
            body = raw.encode("utf-8")
        elif isinstance(raw, dict) and set(raw) == {BYTES_KEY}:
            body = base64.b64decode(raw[BYTES_KEY])
        else:
            body = dump_json(raw)
        request = Request(req["method"], url, body, dict(req.get("headers") or {}))
        stored = resp["body"]
        if ndjson:
            body_of = functools.partial(ndjson_bytes, stored)
            headers.setdefault("content-type", ["application/x-ndjson"])
        elif streaming:
            done = resp.get("sse_done", True)
            body_of = functools.partial(stream_bytes, stored, done)
            headers.setdefault("content-type", ["text/event-stream; charset=utf-8"])
        else:
            body_of = functools.partial(body_bytes, stored)
            headers.setdefault("content-type", ["application/json"])
        return StoredRequest.of(request), StoredResponse(
            status={"code": status, "message": ""}, headers=headers, body=LazyBody(body_of)
        )


CODEC = RecordingCodec()
