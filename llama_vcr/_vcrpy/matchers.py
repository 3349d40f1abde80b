"""The comparator: vcrpy matchers over the canonical request form.

``endpoint`` compares the URL path and the (redacted) query, ignoring scheme, host and port, so a
changed ``base_url`` still replays; ``canonical_body`` compares bodies after canonicalisation, so
key order, whitespace and float noise never cause a miss. Both raise ``AssertionError`` on a
mismatch, as vcrpy expects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._canonical import CanonicalRequest, canonical_request

MATCHER_TAG = "_llama_vcr_matcher"

Matcher = Callable[[Any, Any], None]

#: The ``match_on`` llama-vcr configures by default.
DEFAULT_MATCH_ON = ("method", "endpoint", "canonical_body")


def make_matchers(canonical: Callable[[Any], CanonicalRequest] = canonical_request) -> dict[str, Matcher]:
    """The matchers to register with vcrpy, by name, over a canonical-form function."""

    def endpoint(r1: Any, r2: Any) -> None:
        c1, c2 = canonical(r1), canonical(r2)
        if c1.endpoint != c2.endpoint or c1.query != c2.query:
            raise AssertionError(f"{c1.endpoint}{list(c1.query)} != {c2.endpoint}{list(c2.query)}")

    def canonical_body(r1: Any, r2: Any) -> None:
        c1, c2 = canonical(r1), canonical(r2)
        if c1.body_key != c2.body_key:
            raise AssertionError(f"canonical bodies differ: {c1.body_key[:200]} != {c2.body_key[:200]}")

    for matcher in (endpoint, canonical_body):
        setattr(matcher, MATCHER_TAG, True)  # lets RecordingCassette look requests up by key
    return {"endpoint": endpoint, "canonical_body": canonical_body}
