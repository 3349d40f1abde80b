"""Anthropic Messages API (``anthropic`` SDK, optional extra)."""

from __future__ import annotations

from ..format.envelopes import TypeRule

RULES = (
    TypeRule(
        "POST",
        r"/v1/messages$",
        body="anthropic.types.message.Message",
        chunk="anthropic.types.raw_message_stream_event.RawMessageStreamEvent",  # by each event's "type"
    ),
    TypeRule(
        "POST", r"/v1/messages/count_tokens$", body="anthropic.types.message_tokens_count.MessageTokensCount"
    ),
)
