"""Response headers a recording keeps: the default table, volatile values, the user's additions and
removals, and what is never stored (``set-cookie``, secret names, secret values)."""

from __future__ import annotations

import json
import warnings
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vcr.request import Request

from llama_vcr import CODEC, RecordingCodec, SecretHeaderWarning
from llama_vcr._canonical import Canonicalizer
from llama_vcr._headers import DEFAULT_RESPONSE_HEADERS, ResponseHeaders, header_names
from llama_vcr._redact import Redactor
from llama_vcr.providers import PROVIDERS

KEY = "sk-proj-headers0123456789abcdefABCDEF"
CHAT_URL = "https://api.openai.com/v1/chat/completions"
CLAUDE_URL = "https://api.anthropic.com/v1/messages"
BODY = {"object": "chat.completion", "choices": []}

#: What api.openai.com sends, by kind: kept as recorded, kept normalised, never kept.
OPENAI_KEPT = {"content-type": "application/json", "openai-version": "2020-10-01"}
OPENAI_VOLATILE = {
    "x-request-id": "req_6f1c0d3e2b",
    "openai-processing-ms": "381",
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-limit-tokens": "30000000",
    "x-ratelimit-remaining-requests": "9998",
    "x-ratelimit-remaining-tokens": "29999975",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-reset-tokens": "0s",
}
OPENAI_DROPPED = {
    "date": "Mon, 30 Nov 2026 01:02:03 GMT",
    "content-length": "310",
    "openai-organization": "user-abc123",
    "openai-project": "proj_abc123",
    "x-envoy-upstream-service-time": "383",
    "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
    "cf-ray": "8f2a6b7c1d3e4f5a-SJC",
    "cf-cache-status": "DYNAMIC",
    "server": "cloudflare",
    "alt-svc": 'h3=":443"; ma=86400',
}
COOKIES = ["__cf_bm=abc; path=/; HttpOnly", "_cfuvid=def; path=/; HttpOnly"]


def _response(headers: dict[str, Any], status: int = 200, body: Any = BODY) -> dict[str, Any]:
    return {
        "status": {"code": status, "message": ""},
        "headers": {name: value if isinstance(value, list) else [value] for name, value in headers.items()},
        "body": {"string": json.dumps(body).encode()},
    }


def _request(url: str = CHAT_URL) -> Request:
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
    return Request("POST", url, body, {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})


def _stored(headers: dict[str, Any], codec: RecordingCodec = CODEC, url: str = CHAT_URL) -> dict[str, Any]:
    document = codec.encode(_request(url), _response(headers), "tests/t.py::t")
    assert KEY not in codec.serialize(document)
    return dict(document["response"]["headers"])


def _codec(keep: list[str] = [], drop: list[str] = [], redactor: Redactor | None = None) -> RecordingCodec:  # noqa: B006
    redactor = redactor or Redactor.from_names()
    return RecordingCodec(
        Canonicalizer(redactor), response_headers=ResponseHeaders.configured(keep, drop, redactor)
    )


# --- the default table -------------------------------------------------------------------------------


def test_openai_headers_clients_read_are_kept_volatile_ones_normalised_the_rest_dropped() -> None:
    stored = _stored({**OPENAI_KEPT, **OPENAI_VOLATILE, **OPENAI_DROPPED, "Set-Cookie": COOKIES})
    stem = stored.pop("x-request-id")
    assert stem.startswith("req_rec-")
    assert stored == {
        **OPENAI_KEPT,
        "openai-processing-ms": "0",
        "x-ratelimit-limit-requests": "10000",
        "x-ratelimit-limit-tokens": "30000000",
        "x-ratelimit-remaining-requests": "10000",  # its limit: nothing used, so no client waits
        "x-ratelimit-remaining-tokens": "30000000",
        "x-ratelimit-reset-requests": "0s",
        "x-ratelimit-reset-tokens": "0s",
    }


def test_anthropic_rate_limits_are_kept_with_stable_counts_and_valid_reset_times() -> None:
    live = {
        "content-type": "application/json",
        "request-id": "req_011CAbc",
        "anthropic-organization-id": "uuid",
    }
    for kind, limit in (("requests", "4000"), ("tokens", "480000"), ("input-tokens", "400000")):
        live |= {
            f"anthropic-ratelimit-{kind}-limit": limit,
            f"anthropic-ratelimit-{kind}-remaining": "17",
            f"anthropic-ratelimit-{kind}-reset": "2026-11-30T01:02:04Z",
        }
    stored = _stored(
        live | {"retry-after": "12", "retry-after-ms": "11500", "x-should-retry": "true"}, url=CLAUDE_URL
    )
    assert stored.pop("request-id").startswith("req_rec-")
    assert "anthropic-organization-id" not in stored
    assert (
        stored.pop("retry-after") == "12" and stored.pop("retry-after-ms") == "11500"
    )  # the SDKs wait on them
    assert stored.pop("x-should-retry") == "true"
    for kind, limit in (("requests", "4000"), ("tokens", "480000"), ("input-tokens", "400000")):
        assert stored.pop(f"anthropic-ratelimit-{kind}-limit") == limit
        assert stored.pop(f"anthropic-ratelimit-{kind}-remaining") == limit
        reset = stored.pop(f"anthropic-ratelimit-{kind}-reset")
        assert datetime.fromisoformat(reset).timestamp() == 0  # RFC 3339, and fixed
    assert stored == {"content-type": "application/json"}


def test_location_is_kept_with_its_secret_query_values_hidden() -> None:
    stored = _stored({"location": "https://files.example/f?X-Amz-Signature=abcdef0123456789&x=1"})
    assert stored["location"] == "https://files.example/f?X-Amz-Signature=REDACTED&x=1"


def test_no_provider_keeps_a_response_header_the_redaction_policy_calls_secret() -> None:
    redactor = Redactor.from_names()
    kept = {name for provider in PROVIDERS for name in provider.kept_response_headers}
    volatile = {name for provider in PROVIDERS for name in provider.volatile_response_headers}
    assert kept and volatile <= kept | {n for n in DEFAULT_RESPONSE_HEADERS.kept}
    assert [name for name in kept if redactor.is_secret_response_header(name)] == []
    assert all(DEFAULT_RESPONSE_HEADERS.keeps(name) for name in kept)


# --- volatile values: re-records are byte-identical ----------------------------------------------------

_COUNTS = st.integers(min_value=0, max_value=10**9).map(str)
_DURATIONS = st.builds(
    lambda n, unit: f"{n}{unit}", st.integers(0, 10**6), st.sampled_from(["ms", "s", "m0s"])
)
_LIVE = st.fixed_dictionaries(
    {
        "x-request-id": st.text("abcdef0123456789", min_size=8, max_size=32).map("req_".__add__),
        "openai-processing-ms": _COUNTS,
        "x-ratelimit-remaining-requests": _COUNTS,
        "x-ratelimit-remaining-tokens": _COUNTS,
        "x-ratelimit-reset-requests": _DURATIONS,
        "x-ratelimit-reset-tokens": _DURATIONS,
        "date": st.just("Mon, 30 Nov 2026 01:02:03 GMT"),
        "Set-Cookie": st.lists(st.text("abcdef0123456789", min_size=1).map("__cf_bm=".__add__), max_size=2),
    }
)
_FIXED = {**OPENAI_KEPT, "x-ratelimit-limit-requests": "500", "x-ratelimit-limit-tokens": "200000"}


@given(first=_LIVE, second=_LIVE)
def test_two_recordings_with_different_live_values_are_byte_identical(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    texts = [
        CODEC.serialize(CODEC.encode(_request(), _response({**_FIXED, **live}), "tests/t.py::t"))
        for live in (first, second)
    ]
    assert texts[0] == texts[1]
    stored = json.loads(texts[0])["response"]["headers"]
    assert stored["x-ratelimit-remaining-requests"] == "500" and stored["x-ratelimit-reset-tokens"] == "0s"


def test_a_remaining_count_without_its_limit_gets_a_fixed_count() -> None:
    assert _stored({"x-ratelimit-remaining-requests": "17"})["x-ratelimit-remaining-requests"] == "1000"


# --- the user's additions and removals ------------------------------------------------------------------


def test_added_headers_are_kept_and_dropped_ones_are_not() -> None:
    codec = _codec(
        keep=["X-My-Header", "x-trace-* anthropic-organization-id"], drop=["openai-version, x-ratelimit-*"]
    )
    stored = _stored(
        {
            **OPENAI_KEPT,
            **OPENAI_VOLATILE,
            "x-my-header": "v1",
            "x-trace-span": "s-1",
            "anthropic-organization-id": "org-uuid",
            "x-other": "no",
        },
        codec,
    )
    assert stored.pop("x-request-id").startswith("req_rec-")
    assert stored == {
        "content-type": "application/json",
        "openai-processing-ms": "0",
        "x-my-header": "v1",
        "x-trace-span": "s-1",
        "anthropic-organization-id": "org-uuid",
    }


def test_option_lines_are_split_on_whitespace_and_commas_and_lower_cased() -> None:
    assert header_names(["X-A x-b,x-c", "  ", "x-a"]) == ["x-a", "x-b", "x-c"]


@pytest.mark.parametrize(
    "name",
    [
        "set-cookie",
        "Set-Cookie2",
        "cookie",
        "authorization",
        "x-api-key",
        "openai-organization",
        "x-auth-token",
        "x-amz-security-token",
        "x-session-secret",
        "x-signature",
        "x-tenant",
    ],
)
def test_secret_names_are_refused_even_when_added(name: str) -> None:
    with pytest.raises(ValueError, match="never stored") as caught:
        ResponseHeaders.configured([f"x-fine {name}"], redactor=Redactor.from_names(["x-tenant"]))
    assert name.lower() in str(caught.value) and "x-fine" not in str(caught.value)


def test_a_pattern_never_keeps_set_cookie_or_secret_names() -> None:
    live = {
        "set-cookie": COOKIES,
        "set-cookie2": "a=1",
        "x-api-key": "k" * 20,
        "x-tenant": "acme",
        "x-ok": "1",
    }
    stored = _stored(live, _codec(keep=["*"], redactor=Redactor.from_names(["x-tenant"])))
    assert stored == {"x-ok": "1"}


def test_a_default_header_named_secret_by_the_user_is_not_stored() -> None:
    stored = _stored({**OPENAI_KEPT}, _codec(redactor=Redactor.from_names(["openai-version"])))
    assert stored == {"content-type": "application/json"}


# --- secret values ----------------------------------------------------------------------------------------


def test_a_kept_header_holding_a_secret_value_is_dropped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-Very5ecretValue-0042")
    codec = _codec(keep=["x-echo", "x-debug", "x-ok"])
    live = {"x-echo": f"key was {KEY}", "x-debug": ["a", "tok-Very5ecretValue-0042"], "x-ok": "plain"}
    with pytest.warns(SecretHeaderWarning) as caught:
        document = codec.encode(_request(), _response(live), "tests/t.py::t")
    text = codec.serialize(document)
    assert "Very5ecret" not in text and "sk-proj" not in text and "REDACTED" not in text
    assert document["response"]["headers"] == {"x-ok": "plain"}
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2 and "'x-debug'" in messages[0] and "'x-echo'" in messages[1]
    assert all("POST /v1/chat/completions" in m and "Very5ecret" not in m and KEY not in m for m in messages)


def test_plain_headers_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _stored({**OPENAI_KEPT, **OPENAI_VOLATILE, **OPENAI_DROPPED, "Set-Cookie": COOKIES})


def test_a_repeated_kept_header_is_stored_as_a_list_and_replayed_as_sent() -> None:
    codec = _codec(keep=["x-trace-span"])
    document = codec.encode(_request(), _response({"x-trace-span": ["s-1", "s-2"]}), "tests/t.py::t")
    assert document["response"]["headers"]["x-trace-span"] == ["s-1", "s-2"]
    _, replay = codec.decode(json.loads(codec.serialize(document)))
    assert replay["headers"]["x-trace-span"] == ["s-1", "s-2"]


@pytest.mark.parametrize("drop", ["content-type", "Content-Type", "content-*", "*"])
def test_content_type_cannot_be_dropped(drop: str) -> None:
    """Replay frames a stored body by its content type (without it NDJSON would replay as SSE)."""
    with pytest.raises(ValueError, match="cannot be dropped"):
        ResponseHeaders.configured(drop=[drop])


def test_a_location_on_a_loopback_port_is_stored_without_the_port() -> None:
    """Recordings against local servers on random ports re-record byte-identically (issue 10)."""
    stored = [
        _stored(
            {"content-type": "application/json", "location": f"http://127.0.0.1:{port}/v1/x?a=1"}, _codec()
        )
        for port in (52731, 40111)
    ]
    assert stored[0] == stored[1]
    assert stored[0]["location"] == "http://127.0.0.1/v1/x?a=1"
