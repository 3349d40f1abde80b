"""Anthropic Messages API (``anthropic`` SDK, optional extra)."""

from __future__ import annotations

from ._provider import Provider, TypeRule

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
    kept_response_headers=frozenset({"request-id", "retry-after", "x-should-retry"}),
    request_id_headers=("request-id",),
    secret_env=("ANTHROPIC_API_KEY",),
    secret_headers=frozenset({"x-api-key"}),
    sdk_error=("anthropic", "AnthropicError"),
)
