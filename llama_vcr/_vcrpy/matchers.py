"""The comparator: vcrpy matchers over the canonical request form, and their lookup keys.

Every matcher compares one *key part* of the two requests (:data:`KEY_PARTS`): a value computed
from the request's canonical form (``_canonical.canonical_request``: redacted, body rules
applied, ids mapped, a loopback port left out). Because each matcher is the equality of its key
part, a cassette whose ``match_on`` holds only these matchers looks recordings up in a dict keyed
by the tuple of parts (:func:`key_parts`), and the two can never disagree.

llama-vcr's own names:

- ``endpoint``: the URL path and the (redacted) query; scheme, host and port are ignored, so a
  changed ``base_url`` still replays;
- ``canonical_body``: the body as parsed JSON (``_canonical.match_form``: key order and
  whitespace never matter, floats are compared to 7 significant digits, strings exactly);
- ``tolerant_body``: the same, and null, ``""`` and the API's documented defaults mean "not
  given" (``_tolerant``).

vcrpy's own names (``vcr.matchers``) are registered too, with vcrpy's meaning over what a
recording stores (source: vcrpy 8/9's ``vcr/matchers.py`` and ``Request`` properties):

- ``method``, ``scheme``, ``host``, ``path``, ``query`` as vcrpy's, after redaction and id
  mapping (``query``: sorted pairs, blank values left out, as vcrpy's ``parse_qsl``);
- ``port`` as vcrpy's (an absent port is the scheme's default), except that a loopback host's port
  is never compared: recordings do not keep it, local servers listen on random ports;
- ``uri`` / ``url``: the whole redacted URL, a loopback port left out;
- ``body``: the body as parsed JSON (as vcrpy's ``body`` compares a JSON body); ``raw_body``: the
  same but exactly (key order and numbers as sent; recordings keep no whitespace);
- ``headers``: the request headers a recording stores (``content-type``, ``accept``...), names
  lower-cased, no multipart boundary.

With ``llama_vcr_match = tolerant`` (``tolerant=True``), ``canonical_body`` and ``body`` compare as
``tolerant_body`` does. Matchers raise ``AssertionError`` on a mismatch, as vcrpy expects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Any
from urllib.parse import urlsplit

from .._canonical import CanonicalRequest, canonical_request
from ..format.wire import without_boundary

#: Attribute of a llama-vcr matcher holding its key part (lets RecordingCassette look requests up by key).
MATCHER_TAG = "_llama_vcr_key_part"
#: Attribute set (True) on a matcher that compares bodies tolerantly.
TOLERANT_TAG = "_llama_vcr_tolerant"

Matcher = Callable[[Any, Any], None]
#: ``(canonical form, request after the cassette's hooks) -> hashable``.
KeyPart = Callable[[CanonicalRequest, Any], Hashable]
#: A cassette's lookup key: one value per matcher of its ``match_on``.
RequestKey = tuple[Hashable, ...]

#: vcrpy's ``Request.port`` for a URL without one.
DEFAULT_PORTS = {"http": 80, "https": 443}


def _port(canonical: CanonicalRequest, request: Any) -> Hashable:
    parts = urlsplit(canonical.url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return port if port is not None else DEFAULT_PORTS.get(parts.scheme)


def _uri(canonical: CanonicalRequest, request: Any) -> Hashable:
    parts = urlsplit(canonical.url)  # vcrpy's rule: a bare host's URL ends with "/"
    return canonical.url if parts.path else canonical.url.replace(parts.netloc, parts.netloc + "/", 1)


def _headers(canonical: CanonicalRequest, request: Any) -> Hashable:
    headers = {str(name).lower(): value for name, value in dict(request.headers).items()}
    return tuple(sorted((name, str(value)) for name, value in without_boundary(headers).items()))


def _exact_body(canonical: CanonicalRequest, request: Any) -> Hashable:
    return canonical.body_key


def _tolerant_body(canonical: CanonicalRequest, request: Any) -> Hashable:
    return canonical.tolerant_key


def _raw_body(canonical: CanonicalRequest, request: Any) -> Hashable:
    return json.dumps(canonical.body, separators=(",", ":"))


#: ``name -> key part`` of every matcher :func:`make_matchers` builds (``body`` and
#: ``canonical_body`` become tolerant in tolerant mode).
KEY_PARTS: dict[str, KeyPart] = {
    "method": lambda c, r: c.method,
    "endpoint": lambda c, r: (c.endpoint, c.query),
    "canonical_body": _exact_body,
    "tolerant_body": _tolerant_body,
    "scheme": lambda c, r: urlsplit(c.url).scheme,
    "host": lambda c, r: urlsplit(c.url).hostname,
    "port": _port,
    "path": lambda c, r: c.endpoint,
    "query": lambda c, r: tuple(pair for pair in c.query if pair[1]),  # (vcrpy drops blank values)
    "uri": _uri,
    "url": _uri,
    "body": _exact_body,
    "raw_body": _raw_body,
    "headers": _headers,
}
_BODY_MATCHERS = ("canonical_body", "body")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


def _matcher(name: str, part: KeyPart, canonical: Callable[[Any], CanonicalRequest]) -> Matcher:
    def matcher(r1: Any, r2: Any) -> None:
        k1, k2 = part(canonical(r1), r1), part(canonical(r2), r2)
        if k1 != k2:
            raise AssertionError(f"{name} differs: {_short(k1)} != {_short(k2)}")

    matcher.__name__ = matcher.__qualname__ = name  # vcrpy names a failed matcher by __name__
    setattr(matcher, MATCHER_TAG, part)
    setattr(matcher, TOLERANT_TAG, part is _tolerant_body)
    return matcher


def make_matchers(
    canonical: Callable[[Any], CanonicalRequest] = canonical_request, *, tolerant: bool = False
) -> dict[str, Matcher]:
    """The matchers to register with vcrpy, by name (module docstring), over a canonical-form
    function; ``tolerant``: ``canonical_body`` and ``body`` compare tolerantly."""
    parts = dict(KEY_PARTS)
    if tolerant:
        parts.update(dict.fromkeys(_BODY_MATCHERS, _tolerant_body))
    return {name: _matcher(name, part, canonical) for name, part in parts.items()}


def key_parts(match_on: Any) -> tuple[KeyPart, ...] | None:
    """The key parts of a cassette's resolved ``match_on`` (matcher functions), or None if one of
    them is not llama-vcr's (a user's own matcher): then vcrpy compares every recording."""
    parts = tuple(getattr(matcher, MATCHER_TAG, None) for matcher in match_on)
    return None if any(part is None for part in parts) else parts  # type: ignore[return-value]


def is_tolerant(match_on: Any) -> bool:
    """Whether a resolved ``match_on`` compares bodies tolerantly."""
    return any(getattr(matcher, TOLERANT_TAG, False) for matcher in match_on)


def request_key(canonical: CanonicalRequest, request: Any, parts: tuple[KeyPart, ...]) -> RequestKey:
    """The lookup key of a request under ``parts``: two requests match iff their keys are equal."""
    return tuple(part(canonical, request) for part in parts)
