"""The response headers real providers send besides the body's: rate limits, processing time, API
version, request ids, account ids, and the CDN's (``cf-ray``, ``set-cookie``...). Fresh per
response when the server varies ids (counters, durations, cookies), fixed otherwise.

``openai_headers`` and ``anthropic_headers`` give ``(name, value)`` pairs; a name may repeat
(``set-cookie``). Values follow the real APIs' shapes (2025): OpenAI's reset times are Go
durations (``6ms``, ``1m30s``), Anthropic's RFC 3339 times.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.fakes.common import HEX, ProviderState

Headers = list[tuple[str, str]]

#: OpenAI's per-minute limits of a usage tier.
OPENAI_LIMITS = {"requests": 10_000, "tokens": 30_000_000}
#: Anthropic's limits per kind (``anthropic-ratelimit-<kind>-limit``).
ANTHROPIC_LIMITS = {"requests": 4_000, "tokens": 480_000, "input-tokens": 400_000, "output-tokens": 80_000}


def _cdn(state: ProviderState, domain: str) -> Headers:
    expires = datetime.fromtimestamp(state.timestamp() + 1800, UTC).strftime("%a, %d-%b-%y %H:%M:%S GMT")
    return [
        ("cf-ray", state.rand(16, HEX) + "-SJC"),
        ("cf-cache-status", "DYNAMIC"),
        ("strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
        ("x-content-type-options", "nosniff"),
        (
            "set-cookie",
            f"__cf_bm={state.rand(43)}-{state.timestamp()}-1.0.1.1-{state.rand(40)}; path=/; "
            f"expires={expires}; domain=.{domain}; HttpOnly; Secure; SameSite=None",
        ),
        (
            "set-cookie",
            f"_cfuvid={state.rand(43)}-{state.timestamp()}000-0.0.1.1-604800000; path=/; "
            f"domain=.{domain}; HttpOnly; Secure; SameSite=None",
        ),
        ("alt-svc", 'h3=":443"; ma=86400'),
    ]


def openai_headers(state: ProviderState, request_id: str) -> Headers:
    """What api.openai.com sends with every response (the body's content type aside)."""
    ms = str(state.jitter(42))
    headers: Headers = [
        ("x-request-id", request_id),
        ("openai-organization", "user-" + state.rand(24).lower()),
        ("openai-project", "proj_" + state.rand(24)),
        ("openai-processing-ms", ms),
        ("openai-version", "2020-10-01"),
        ("x-envoy-upstream-service-time", ms),
    ]
    for kind, limit in OPENAI_LIMITS.items():
        headers.append((f"x-ratelimit-limit-{kind}", str(limit)))
    for kind, limit in OPENAI_LIMITS.items():
        headers.append((f"x-ratelimit-remaining-{kind}", str(limit - state.jitter(8))))
    headers.append(("x-ratelimit-reset-requests", f"{state.jitter(6)}ms"))
    headers.append(("x-ratelimit-reset-tokens", f"{state.jitter(2)}ms"))
    return [*headers, ("access-control-expose-headers", "X-Request-ID"), *_cdn(state, "api.openai.com")]


def anthropic_headers(state: ProviderState, request_id: str) -> Headers:
    """What api.anthropic.com sends with every response (the body's content type aside)."""
    reset = datetime.fromtimestamp(state.timestamp() + 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers: Headers = [("request-id", request_id)]
    for kind, limit in ANTHROPIC_LIMITS.items():
        headers += [
            (f"anthropic-ratelimit-{kind}-limit", str(limit)),
            (f"anthropic-ratelimit-{kind}-remaining", str(limit - state.jitter(8))),
            (f"anthropic-ratelimit-{kind}-reset", reset),
        ]
    org = state.rand(32, HEX)
    uuid = f"{org[:8]}-{org[8:12]}-{org[12:16]}-{org[16:20]}-{org[20:]}"
    headers += [("anthropic-organization-id", uuid), ("via", "1.1 google"), ("x-robots-tag", "none")]
    return headers + _cdn(state, "anthropic.com")[:5]
