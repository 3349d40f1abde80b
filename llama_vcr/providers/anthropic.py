"""Anthropic Messages API (``anthropic`` SDK, optional extra)."""

from __future__ import annotations

from ._provider import Provider, TypeRule, counterpart, fixed

#: ``anthropic-ratelimit-<kind>-limit``, ``-remaining`` (a count), ``-reset`` (an RFC 3339 time).
RATE_LIMITS = tuple(
    f"anthropic-ratelimit-{kind}-{part}"
    for kind in ("requests", "tokens", "input-tokens", "output-tokens")
    for part in ("limit", "remaining", "reset")
)

PROVIDER = Provider(
    name="anthropic",
    rules=(
        TypeRule(
            "POST",
            r"/v1/messages$",
            body="anthropic.types.message.Message",
            chunk="anthropic.types.raw_message_stream_event.RawMessageStreamEvent",  # by each event's "type"
        ),
        TypeRule(
            "POST",
            r"/v1/messages/count_tokens$",
            body="anthropic.types.message_tokens_count.MessageTokensCount",
        ),
    ),
    kept_request_headers=frozenset({"anthropic-version", "anthropic-beta"}),
    kept_response_headers=frozenset(
        {"request-id", "retry-after", "retry-after-ms", "x-should-retry", *RATE_LIMITS}
    ),
    volatile_response_headers={
        **dict.fromkeys(RATE_LIMITS[1::3], counterpart("-remaining", "-limit", "1000")),
        **dict.fromkeys(RATE_LIMITS[2::3], fixed("1970-01-01T00:00:00Z")),  # RFC 3339
    },
    request_id_headers=("request-id",),
    secret_env=("ANTHROPIC_API_KEY",),
    secret_headers=frozenset({"x-api-key"}),
    sdk_error=("anthropic", "AnthropicError"),
)
