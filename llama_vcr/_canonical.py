"""The canonical form of a request: what is matched on, stored, and hashed into a file name.

Data flows one way: a vcrpy request -> :func:`canonical_request` -> :class:`CanonicalRequest`,
whose ``body`` is what the recording stores and whose :func:`request_hash` names the file.
The normalisation is llama-stack's (``_normalize_body_for_hash``): every float is rounded to
5 places and every decimal with 4+ fractional digits inside a string is rewritten as ``%.5f``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._redact import DEFAULT_REDACTOR, Redactor

JSONValue = Any

_FLOAT_IN_STRING = re.compile(r"-?\d+\.\d{4,}")
#: The attribute a vcrpy request caches its canonical form under (requests are matched often).
_CACHE_ATTR = "_llama_vcr_canonical"


def _round_in_string(match: re.Match[str]) -> str:
    return f"{float(match.group(0)):.5f}"


def normalize_body(value: JSONValue) -> JSONValue:
    """Round floats to 5 places and long decimals inside strings the same way (idempotent)."""
    if isinstance(value, dict):
        return {key: normalize_body(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize_body(item) for item in value]
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, str):
        return _FLOAT_IN_STRING.sub(_round_in_string, value) if "." in value else value
    return value


def parse_body(raw: bytes | str | None) -> JSONValue:
    """A request body as stored: parsed JSON, else text, else ``{"__bytes__": base64}``; None if empty."""
    if raw is None or raw == b"" or raw == "":
        return None
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"__bytes__": base64.b64encode(raw).decode("ascii")}
    try:
        return json.loads(text)
    except ValueError:
        return text


def endpoint_of(url: str) -> str:
    """The URL's path: the ``endpoint`` a recording is hashed and matched by."""
    return urlsplit(url).path or "/"


def request_hash(method: str, endpoint: str, body: JSONValue, test_id: str | None) -> str:
    """sha256 hex of llama-stack's request key; ``body`` must already be canonical."""
    key = {"method": method.upper(), "endpoint": endpoint, "body": body, "test_id": test_id}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CanonicalRequest:
    """A request reduced to what identifies it; ``query`` holds redacted, sorted pairs."""

    method: str
    url: str
    endpoint: str
    query: tuple[tuple[str, str], ...]
    body: JSONValue
    body_key: str

    @property
    def model(self) -> str | None:
        model = self.body.get("model") if isinstance(self.body, dict) else None
        return model if isinstance(model, str) else None

    def hash(self, test_id: str | None) -> str:
        return request_hash(self.method, self.endpoint, self.body, test_id)


def canonical_request(request: Any, redactor: Redactor = DEFAULT_REDACTOR) -> CanonicalRequest:
    """The canonical form of a vcrpy ``Request``, computed once and cached on the object."""
    cached = request.__dict__.get(_CACHE_ATTR)
    if cached is not None and cached[0] is request._body and cached[1] == request.uri:
        return cached[2]
    url = redactor.url(request.uri)
    parts = urlsplit(url)
    body = normalize_body(parse_body(request._body))
    canonical = CanonicalRequest(
        method=request.method.upper(),
        url=url,
        endpoint=parts.path or "/",
        query=tuple(sorted(parse_qsl(parts.query, keep_blank_values=True))),
        body=body,
        body_key=json.dumps(body, sort_keys=True, separators=(",", ":")),
    )
    request.__dict__[_CACHE_ATTR] = (request._body, request.uri, canonical)
    return canonical
