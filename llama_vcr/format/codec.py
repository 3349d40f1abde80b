"""The recording format codec: one vcrpy interaction <-> one llama-stack style JSON document.

``encode`` turns a vcrpy ``(Request, response dict)`` pair into the document that a recording
file holds; ``decode`` turns a document back into the pair vcrpy replays. ``dumps``/``loads``
are the text side. See ``docs/recording-format.md`` for the format itself.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vcr.request import Request

from .._canonical import DEFAULT_CANONICALIZER, Canonicalizer, endpoint_of
from .._headers import DEFAULT_RESPONSE_HEADERS, ResponseHeaders
from .._normalize import NAMING_ENDPOINTS, IdMap, Normalizer, request_strings
from .._redact import SDK_ATTR, Redactor, sdk_of
from . import layout
from .envelopes import REGISTRY, TypeRegistry
from .framing import FRAMING_KEY, NDJSON, encode_body, header_framing
from .llama_stack import NotReplayableError, from_llama_stack
from .replayed import LazyBody, StoredRequest, StoredResponse
from .stream_lines import StreamLines
from .stream_lines import read as read_stream_lines
from .strict_json import parse as parse_strict
from .transport import TRANSPORT_ERROR_KEY, check_transport_error, decode_arrived, whole_frames
from .validate import check_recording, check_replay
from .wire import (
    BYTES_KEY,
    RecordingFormatError,
    body_bytes,
    content_decoded,
    decode_content,
    dump_json,
    ndjson_bytes,
    stream_bytes,
    without_boundary,
)

#: Response headers a recording keeps by default (names or patterns; see ``_headers``).
KEPT_RESPONSE_HEADERS = DEFAULT_RESPONSE_HEADERS.kept


def stable_base(digest: str, occurrence: int = 1) -> str:
    """The stable id a recording's first response id becomes: ``rec-<12 hex>[_<occurrence>]``."""
    return f"rec-{digest[:12]}" if occurrence == 1 else f"rec-{digest[:12]}_{occurrence}"


# --- the codec ---------------------------------------------------------------------------------------


class EncodedDocument(dict):  # type: ignore[type-arg]
    """A document :meth:`RecordingCodec.encode` made; ``scrubbed`` names the secret environment
    variables whose values redaction hid in it (``_store.place`` warns about them)."""

    scrubbed: list[str] = []  # noqa: RUF012 - set per instance by encode


def _header_value(values: Any) -> Any:
    if isinstance(values, (list, tuple)):
        return values[0] if len(values) == 1 else list(values)
    return values


def at_position(document: Mapping[str, Any], position: int) -> dict[str, Any]:
    """A copy of ``document`` whose ``position`` is ``position`` (written after ``test_id`` and
    ``occurrence``, as :meth:`RecordingCodec.encode` writes it; ``scrubbed`` kept). Raises
    ``ValueError`` for a position below 1."""
    if isinstance(position, bool) or position < 1:
        raise ValueError(f"a position is a positive integer, not {position!r}")
    head = ("test_id", "occurrence")
    placed = EncodedDocument({key: document[key] for key in head if key in document})
    placed["position"] = position
    placed |= {key: value for key, value in document.items() if key not in (*head, "position")}
    placed.scrubbed = list(getattr(document, "scrubbed", ()))
    return placed


def position_of(document: Mapping[str, Any]) -> int | None:
    """A loaded document's ``position`` (checked by ``validate.check_recording``), or None."""
    position = document.get("position")
    return position if isinstance(position, int) and not isinstance(position, bool) else None


@dataclass
class RecordingCodec:
    """The llama-vcr serializer: registered with vcrpy as ``"llama_vcr"``."""

    canonicalizer: Canonicalizer = DEFAULT_CANONICALIZER
    registry: TypeRegistry = field(default_factory=lambda: REGISTRY)
    normalizer: Normalizer = field(default_factory=Normalizer)
    #: Which response headers are stored and how volatile ones are written (ini options).
    response_headers: ResponseHeaders = DEFAULT_RESPONSE_HEADERS

    @property
    def redactor(self) -> Redactor:
        return self.canonicalizer.redactor

    # vcrpy's serializer protocol (text <-> data), here for one recording document.
    def serialize(self, document: Mapping[str, Any]) -> str:
        """The file text (``layout.dumps``): indented JSON, a stream's chunks one per line,
        non-ASCII kept as is; a document holding a lone surrogate (half an emoji in a prompt) is
        written with ASCII escapes, so the file is always UTF-8."""
        return layout.dumps(document)

    def deserialize(self, text: str | bytes, *, stream_lines: bool = False) -> dict[str, Any]:
        """A recording's document from its text (or its UTF-8 bytes): strict JSON (no duplicate
        keys, ``NaN``, or nesting beyond ``strict_json.MAX_DEPTH``) with a ``request`` and a
        ``response`` object. Raises :class:`RecordingFormatError`; the fields are checked by
        :meth:`decode`.

        ``stream_lines`` (bytes only): a stream in llama-vcr's layout is read line by line, its
        ``response.body`` a :class:`~llama_vcr.format.stream_lines.StreamLines` (the chunks' wire
        text, for :meth:`decode`; not a list of chunks) when every chunk line is in the usual form.
        """
        document = read_stream_lines(text) if stream_lines and isinstance(text, bytes) else None
        if document is not None:
            return document
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
        position: int | None = None,
    ) -> dict[str, Any]:
        """The document for one interaction: request redacted and canonical, response typed and
        normalised. ``ids`` is the test's id map (new ids are added to it); ``occurrence`` is the
        n-th time this request hash is stored in the test; ``position`` (1-based, None: not
        written) the n-th request of the test, in recorded order (see :func:`at_position`)."""
        ids = IdMap() if ids is None else ids
        canonical = self.canonicalizer(request, ids)
        headers = {
            name.lower(): _header_value(values) for name, values in response.get("headers", {}).items()
        }
        raw: bytes | str = response.get("body", {}).get("string", b"") or b""
        body = raw.encode("utf-8") if isinstance(raw, str) else raw
        encoding = headers.pop("content-encoding", None)
        cut = response.get(TRANSPORT_ERROR_KEY)  # the body broke off: keep what arrived, and why
        if encoding:
            coding = encoding if isinstance(encoding, str) else ",".join(encoding)
            body = content_decoded(body, coding, decode_arrived if cut is not None else decode_content)
        content_type = str(headers.get("content-type", ""))
        if cut is not None:
            check_transport_error(response, "the recorded response")
            body = whole_frames(body, content_type)
        status = int(response.get("status", {}).get("code", 200))
        sdk = request.__dict__.get(SDK_ATTR) or sdk_of(request.headers)  # (the SDK builds its own types)
        rule = self.registry.rule_for(canonical.method, canonical.endpoint, sdk) if status < 400 else None
        # the framing comes from the bytes (format/framing); the header is kept as it was. An error
        # is read whole; a success answering "stream": true may be read line by line
        streamed = status < 400 and isinstance(canonical.body, dict) and canonical.body.get("stream") is True
        stored = encode_body(body, content_type, rule, url=canonical.url, streamed=streamed)
        # the policy that redacted the request (before matching) hides the same secrets here
        redaction = self.redactor.redaction(canonical.secrets)
        stored["body"] = redaction.value(stored["body"])
        base = stable_base(canonical.hash(test_id), occurrence)
        sent = request_strings(canonical.body, canonical.endpoint) | {v for _, v in canonical.query}
        stored["body"] = self.normalizer.response(
            stored["body"],
            ids,
            base,
            sent,
            map_ids=NAMING_ENDPOINTS.search(canonical.endpoint) is None,
            introduce=canonical.method not in ("GET", "HEAD"),  # a retrieval or listing creates nothing
        )
        ids.sent |= sent
        if status >= 400:  # an error quotes the live ids it was sent
            stored["body"] = ids.apply_text(stored["body"])
        kept = self.response_headers.select(  # a pass of its own: a dropped header warns apart
            headers,
            self.redactor.redaction(canonical.secrets),
            f"req_{base}",
            f"{canonical.method} {canonical.endpoint}",
        )
        document = EncodedDocument(test_id=test_id)
        if occurrence > 1:
            document["occurrence"] = occurrence
        if position is not None:
            document["position"] = position
        if recorded_at:
            document["recorded_at"] = recorded_at
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
        if cut is not None:
            error = {"type": cut["type"], "message": redaction.value(cut["message"])}
            document["response"][TRANSPORT_ERROR_KEY] = error
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
        framing = resp.get(FRAMING_KEY) or header_framing(content_type, url)
        ndjson = streaming and framing == NDJSON
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
        done = resp.get("sse_done", True)
        if isinstance(stored, StreamLines):  # (its chunks were checked as they were read)
            body_of = functools.partial(stored.wire_bytes, ndjson=ndjson, done=done)
        elif ndjson:
            body_of = functools.partial(ndjson_bytes, stored)
        elif streaming:
            body_of = functools.partial(stream_bytes, stored, done)
        else:
            body_of = functools.partial(body_bytes, stored)
        if ndjson:
            headers.setdefault("content-type", ["application/x-ndjson"])
        elif streaming:
            headers.setdefault("content-type", ["text/event-stream; charset=utf-8"])
        else:
            headers.setdefault("content-type", ["application/json"])
        replayed = StoredResponse(
            status={"code": status, "message": ""}, headers=headers, body=LazyBody(body_of)
        )
        if TRANSPORT_ERROR_KEY in resp:  # (checked by check_recording) the seam raises it after the body
            replayed[TRANSPORT_ERROR_KEY] = dict(resp[TRANSPORT_ERROR_KEY])
        return StoredRequest.of(request), replayed


CODEC = RecordingCodec()
