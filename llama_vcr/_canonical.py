"""The canonical form of a request: what is matched on, stored, and hashed into a file name.

Data flows one way: a vcrpy request -> :func:`canonical_request` -> :class:`CanonicalRequest`,
whose ``body`` is what the recording stores and whose :func:`request_hash` names the file.

- The stored ``body`` is exactly what was sent, after redaction, the user's body rules and the
  test's id map; nothing else is rewritten.
- Matching (``body_key``) compares that body as JSON (key order and whitespace never matter),
  with one tolerance: :func:`match_form` (numbers equal to 7 significant digits). Tolerant
  matching (opt-in) compares ``tolerant_key`` instead: ``_tolerant.tolerant_form`` of the same,
  where null, ``""`` and the API's documented defaults mean "not given".
- The file name is llama-stack's hash (:func:`request_hash`), whose normalisation
  (:func:`normalize_body`, llama-stack's ``_normalize_body_for_hash``) is used for the name only,
  so files stay llama-stack compatible; two different requests sharing a name are told apart by
  the ``-<n>`` occurrence suffix and replayed by exact matching.
- A loopback host's port is left out of the stored URL (:func:`stable_url`).
"""

from __future__ import annotations

import base64
import email.policy
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import BytesParser
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._body_forms import BYTES_LIKE, joined, structured
from ._normalize import IdMap
from ._redact import DEFAULT_REDACTOR, Redactor
from ._tolerant import tolerant_form

JSONValue = Any

_FLOAT_IN_STRING = re.compile(r"-?\d+\.\d{4,}")
#: Floats in request bodies match when they agree to this many significant digits (float noise).
MATCH_DIGITS = 7
#: Hosts whose port a stored URL leaves out (local servers listen on random ports).
LOOPBACK_HOSTS = frozenset({"localhost", "::1"})
#: The attribute a vcrpy request caches its canonical form under (requests are matched often).
_CACHE_ATTR = "_llama_vcr_canonical"


def _round_in_string(match: re.Match[str]) -> str:
    return f"{float(match.group(0)):.5f}"


def normalize_body(value: JSONValue, text: Callable[[str], str] | None = None) -> JSONValue:
    """llama-stack's ``_normalize_body_for_hash``, for the file name only (never for matching or
    storing): floats rounded to 5 places, and every decimal with 4+ fractional digits inside a
    string (regex ``-?\\d+\\.\\d{4,}``) rewritten as ``%.5f``. Idempotent. ``text``: a rewrite of
    every string first (the current recorder's file_search placeholders, ``llama_stack_names``)."""
    if isinstance(value, dict):
        return {key: normalize_body(item, text) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize_body(item, text) for item in value]
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, str):
        value = text(value) if text is not None else value
        return _FLOAT_IN_STRING.sub(_round_in_string, value) if "." in value else value
    return value


def match_form(value: JSONValue) -> JSONValue:
    """What matching compares: ``value`` with every float rounded to :data:`MATCH_DIGITS` significant
    digits, and one with an integral value written as that integer (``1.0`` matches ``1``).
    Strings, integers, booleans and null are compared exactly; so is everything else."""
    if isinstance(value, dict):
        return {key: match_form(item) for key, item in value.items()}
    if isinstance(value, list):
        return [match_form(item) for item in value]
    if isinstance(value, float) and math.isfinite(value):
        rounded = float(f"{value:.{MATCH_DIGITS}g}")
        return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded
    return value


def stable_url(url: str) -> str:
    """``url`` with the port of a loopback host (``127.0.0.0/8``, ``::1``, ``localhost``) left out:
    ``http://127.0.0.1:52731/v1/x`` -> ``http://127.0.0.1/v1/x``. Other URLs are returned as they are."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return url
    host = (parts.hostname or "").lower()
    if port is None or not (host in LOOPBACK_HOSTS or re.fullmatch(r"127(\.\d{1,3}){3}", host)):
        return url
    netloc = parts.netloc.rpartition(":")[0]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _parse_multipart(raw: bytes, content_type: str) -> JSONValue:
    """A multipart/form-data body as ``{"__multipart__": [parts]}``, its random boundary left out."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    parts = []
    for part in message.iter_parts():
        entry: dict[str, Any] = {"name": part.get_param("name", header="content-disposition")}
        if part.get_filename() is not None:
            entry["filename"] = part.get_filename()
        if part.get("content-type"):
            entry["content_type"] = part.get_content_type()
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):  # (decode=True gives bytes for a non-multipart part)
            payload = b""
        try:
            entry["text"] = payload.decode("utf-8")
        except UnicodeDecodeError:
            entry["bytes"] = base64.b64encode(payload).decode("ascii")
        parts.append(entry)
    return {"__multipart__": parts}


def parse_body(raw: object, content_type: str | None = None, *, chunks: bool = False) -> JSONValue:
    """A request body as stored: parsed JSON, else text, else ``{"__bytes__": base64}``; None if empty.

    ``raw`` is any body form a vcrpy stub hands over: bytes (or ``bytearray``, ``memoryview``),
    text, a list of chunks (``chunks=True``: vcrpy kept an iterator body; a list of bytes is always
    chunks), or an unencoded value (aiohttp's ``json=`` and ``data=``: ``_body_forms.structured``),
    stored as the bytes a client sends for it would be. A multipart/form-data body becomes
    ``{"__multipart__": [{"name", "filename", "content_type", "text" | "bytes"}]}``, a body that
    cannot be read without consuming it ``{"__object__": "module.Class"}``. Never raises.
    """
    content_type = content_type or ""
    if isinstance(raw, list):
        chunked = joined(raw) if chunks or (raw and all(isinstance(c, BYTES_LIKE) for c in raw)) else None
        raw = chunked if chunked is not None else raw
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if raw is None or raw == b"" or raw == "":
        return None
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if not isinstance(raw, bytes):
        return structured(raw, content_type.lower())
    if content_type.startswith("multipart/form-data") and "boundary=" in content_type:
        return _parse_multipart(raw, content_type)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"__bytes__": base64.b64encode(raw).decode("ascii")}
    try:
        return json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except ValueError:  # (NaN, Infinity, 1e400: a recording holds strict JSON, so the text is kept)
        return text


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    """A JSON number as a float; ``ValueError`` for one too large for a float (``1e400``), which
    strict JSON (what a recording holds) cannot write back."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} does not fit a float")
    return value


def endpoint_of(url: str) -> str:
    """The URL's path: the ``endpoint`` a recording is hashed and matched by."""
    return urlsplit(url).path or "/"


def request_hash(method: str, endpoint: str, body: JSONValue, test_id: str | None) -> str:
    """sha256 hex of llama-stack's request key (``normalize_request`` in its inference recorder):
    ``json.dumps({"method", "endpoint", "body": _normalize_body_for_hash(body), "test_id"},
    sort_keys=True)``. ``body`` is the stored body; :func:`normalize_body` is applied here."""
    key = {"method": method.upper(), "endpoint": endpoint, "body": normalize_body(body), "test_id": test_id}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CanonicalRequest:
    """A request reduced to what identifies it: ``body`` is what is stored, ``body_key`` (JSON of its
    :func:`match_form`) what is matched; ``query`` holds redacted, sorted pairs."""

    method: str
    url: str
    endpoint: str
    query: tuple[tuple[str, str], ...]
    body: JSONValue
    body_key: str
    #: Secret environment variables whose values redaction took out of the URL or body.
    scrubbed: tuple[str, ...] = field(default=(), compare=False)
    #: Credentials redaction hid by name (and those of the request's headers): never written, but
    #: hidden wherever the response echoes them.
    secrets: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def model(self) -> str | None:
        model = self.body.get("model") if isinstance(self.body, dict) else None
        return model if isinstance(model, str) else None

    def hash(self, test_id: str | None) -> str:
        return request_hash(self.method, self.endpoint, self.body, test_id)

    @functools.cached_property
    def tolerant_key(self) -> str:
        """What tolerant matching compares: JSON of ``_tolerant.tolerant_form`` of the body's
        :func:`match_form` (null, ``""`` and the endpoint's documented defaults left out)."""
        form = tolerant_form(match_form(self.body), self.endpoint)
        return json.dumps(form, sort_keys=True, separators=(",", ":"))


_DELETE = object()


def _rewrite(value: JSONValue, parts: Sequence[str], replacement: Any) -> JSONValue:
    """``value`` with the dotted path ``parts`` (``*`` = any key or index) deleted or replaced."""
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [head] if head in value else []
    elif isinstance(value, list) and (head == "*" or head.isdigit()):
        keys = list(range(len(value))) if head == "*" else [int(head)] if int(head) < len(value) else []
    else:
        return value
    if not keys:
        return value
    out = dict(value) if isinstance(value, dict) else list(value)
    for key in reversed(keys):  # reversed: deleting list items keeps earlier indexes valid
        if rest:
            out[key] = _rewrite(out[key], rest, replacement)
        elif replacement is _DELETE:
            del out[key]
        else:
            out[key] = replacement
    return out


@dataclass(frozen=True)
class BodyRules:
    """Request-body paths a user declared volatile: ``ignore`` drops them, ``replace`` fixes them.

    Paths are dotted (``metadata.trace_id``, ``messages.*.name``); they apply to matching and to
    the stored body alike, so a file's name still derives from its content.
    """

    ignore: tuple[str, ...] = ()
    replace: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_config(cls, ignore: Iterable[str] = (), replace: Mapping[str, Any] | None = None) -> BodyRules:
        return cls(tuple(ignore), tuple((replace or {}).items()))

    def __bool__(self) -> bool:
        return bool(self.ignore or self.replace)

    def apply(self, body: JSONValue) -> JSONValue:
        for path in self.ignore:
            body = _rewrite(body, path.split("."), _DELETE)
        for path, replacement in self.replace:
            body = _rewrite(body, path.split("."), replacement)
        return body


@dataclass(frozen=True)
class Canonicalizer:
    """How requests are reduced to their canonical form: redaction plus the user's body rules."""

    redactor: Redactor = DEFAULT_REDACTOR
    rules: BodyRules = BodyRules()

    def __call__(self, request: Any, ids: IdMap | None = None) -> CanonicalRequest:
        return canonical_request(request, self, ids)


DEFAULT_CANONICALIZER = Canonicalizer()


class _Cached(tuple):  # type: ignore[type-arg]
    """A request's cached canonical form; shared, not copied, when vcrpy deep-copies the request."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _Cached:
        return self


def canonical_request(
    request: Any, canonicalizer: Canonicalizer = DEFAULT_CANONICALIZER, ids: IdMap | None = None
) -> CanonicalRequest:
    """The canonical form of a vcrpy ``Request``: redacted, body rules applied, ids mapped to stable
    ones (the module docstring says what is stored and what is matched).

    Redaction (:meth:`llama_vcr._redact.Redaction.url` and ``.body``) comes first, so a live request
    is matched exactly as its recording was stored: a secret sent in a body or URL (or a
    different one, or none) never causes a miss.

    It is cached on the request object (requests are matched many times) until the body, the
    URL, the canonicalizer or the id map changes.
    """
    body_bytes, n_ids = request._body, len(ids) if ids is not None else -1
    cached = request.__dict__.get(_CACHE_ATTR)
    if cached is not None:
        (c_body, c_uri, c_canonicalizer, c_ids), canonical = cached
        if (
            c_body is body_bytes
            and c_uri == request.uri
            and c_canonicalizer is canonicalizer
            and c_ids == n_ids
        ):
            return cast(CanonicalRequest, canonical)
    redactor = canonicalizer.redactor
    sent = redactor.request_secrets(request)
    redaction = redactor.redaction(sent)
    url = redaction.url(request.uri)
    parts = urlsplit(url)
    content_type = request.headers.get("content-type") if hasattr(request.headers, "get") else None
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    content_type = content_type if isinstance(content_type, str) else None
    chunks = request.__dict__.get("_was_iter") is True  # vcrpy listed an iterator body's chunks
    body = redaction.body(parse_body(body_bytes, content_type, chunks=chunks), content_type)
    if canonicalizer.rules:
        body = canonicalizer.rules.apply(body)
    path = parts.path or "/"
    query = parts.query
    if ids is not None and len(ids):
        body = ids.apply(body)
        path = ids.apply_path(path)
        pairs = parse_qsl(query, keep_blank_values=True)
        mapped = [(name, ids.apply(value)) for name, value in pairs]
        query = urlencode(mapped) if mapped != pairs else query  # e.g. ?after=<a live file id>
        url = urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))
    canonical = CanonicalRequest(
        method=request.method.upper(),
        url=stable_url(url),
        endpoint=path,
        query=tuple(sorted(parse_qsl(query, keep_blank_values=True))),
        body=body,
        body_key=json.dumps(match_form(body), sort_keys=True, separators=(",", ":")),
        scrubbed=tuple(redaction.found),
        secrets=tuple(dict.fromkeys([*sent, *redaction.hidden])),
    )
    request.__dict__[_CACHE_ATTR] = _Cached(((body_bytes, request.uri, canonicalizer, n_ids), canonical))
    return canonical
