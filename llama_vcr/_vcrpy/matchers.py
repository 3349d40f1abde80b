"""The comparator: vcrpy matchers over the canonical request form.

``endpoint`` compares the URL path and the (redacted) query, ignoring scheme, host and port, so a
changed ``base_url`` still replays; ``canonical_body`` compares the stored bodies exactly as parsed
JSON (``_canonical.match_form``: key order and whitespace never matter, floats are compared to 7
significant digits, strings exactly). Both raise ``AssertionError`` on a mismatch, as vcrpy expects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._canonical import CanonicalRequest, canonical_request

MATCHER_TAG = "_llama_vcr_matcher"

Matcher = Callable[[Any, Any], None]


#: ``(method, endpoint, query, canonical body)``: what the default matchers compare, all at once.
RequestKey = tuple[str, str, tuple[tuple[str, str], ...], str]


def request_key(canonical: CanonicalRequest) -> RequestKey:
    """The lookup key of a canonical request: two requests match by default iff their keys are equal.

    The matchers below compare slices of it, and the cassette indexes recordings by it, so the two
    can never disagree.
    """
    return canonical.method, canonical.endpoint, canonical.query, canonical.body_key


def make_matchers(canonical: Callable[[Any], CanonicalRequest] = canonical_request) -> dict[str, Matcher]:
    """The matchers to register with vcrpy, by name, over a canonical-form function."""

    def endpoint(r1: Any, r2: Any) -> None:
        k1, k2 = request_key(canonical(r1)), request_key(canonical(r2))
        if k1[1:3] != k2[1:3]:
            raise AssertionError(f"{k1[1]}{list(k1[2])} != {k2[1]}{list(k2[2])}")

    def canonical_body(r1: Any, r2: Any) -> None:
        k1, k2 = request_key(canonical(r1)), request_key(canonical(r2))
        if k1[3] != k2[3]:
            raise AssertionError(f"canonical bodies differ: {k1[3][:200]} != {k2[3][:200]}")

    for matcher in (endpoint, canonical_body):
        setattr(matcher, MATCHER_TAG, True)  # lets RecordingCassette look requests up by key
    return {"endpoint": endpoint, "canonical_body": canonical_body}
