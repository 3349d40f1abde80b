"""The Anthropic Messages API: `POST /v1/messages` (plain and streamed) and `count_tokens`."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .common import (
    JSON,
    TOOL_ARGUMENTS,
    TOOL_INPUT,
    Abort,
    ProviderState,
    Reply,
    Request,
    Route,
    json_pieces,
    pieces,
    sse,
    text_of,
    tokens,
)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def default_error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def request_id(state: ProviderState) -> str:
    return "req_011C" + state.rand(20)


def error(state: ProviderState, status: int, message: str, error_type: str | None = None) -> Reply:
    """An Anthropic error reply; its `request_id` matches the `request-id` header."""
    rid = request_id(state)
    inner = {"type": error_type or default_error_type(status), "message": message}
    return Reply(status, {"type": "error", "error": inner, "request_id": rid}, headers={"request-id": rid})


def stream_error(sent: int, message: str, error_type: str | None) -> bytes:
    """A mid-stream `event: error` (the SDK raises an APIStatusError built from its JSON)."""
    return sse(
        {"type": "error", "error": {"type": error_type or "overloaded_error", "message": message}}, "error"
    )


def check_headers(state: ProviderState, request: Request) -> Reply | None:
    """401 without an API key (`x-api-key`, or `Authorization: Bearer` as SDK 2.x sends it); 400
    without `anthropic-version`."""
    bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not (request.headers.get("x-api-key", "").strip() or bearer):
        return error(state, 401, "x-api-key header is required")
    if not request.headers.get("anthropic-version"):
        return error(state, 400, "anthropic-version: header is required")
    return None


def _body(state: ProviderState, request: Request, required: tuple[str, ...]) -> JSON:
    data = request.json()
    if data is None:
        raise Abort(error(state, 400, "There was an error parsing the body of your request as JSON."))
    for name in required:
        if name not in data:
            raise Abort(error(state, 400, f"{name}: Field required"))
    return data


def _input_tokens(data: JSON) -> int:
    messages = [m for m in data.get("messages") or [] if isinstance(m, dict)]
    system = data.get("system")
    return sum(tokens(text_of(m.get("content"))) + 3 for m in messages) + tokens(text_of(system or ""))


def _content(state: ProviderState, data: JSON) -> tuple[list[JSON], str]:
    """The content blocks, and the stop reason."""
    messages = [m for m in data.get("messages") or [] if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    content = last.get("content")
    blocks = content if isinstance(content, list) else []
    results = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"]
    tools = [t for t in data.get("tools") or [] if isinstance(t, dict)]
    if results:
        text = "Tool said: " + text_of(results[-1].get("content"))
    elif tools:
        block = {"type": "tool_use", "id": "toolu_01" + state.rand(22), "name": str(tools[0].get("name"))}
        return [{**block, "input": dict(TOOL_INPUT)}], "tool_use"
    else:
        user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        text = state.reply_text(text_of(user.get("content")))
    return [{"type": "text", "text": text}], "end_turn"


def _usage(input_tokens: int, output_tokens: int) -> JSON:
    cache = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
    usage: JSON = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    return {**usage, "cache_creation": cache, "output_tokens": output_tokens, "service_tier": "standard"}


def messages(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """A Message, or its event stream (`event:` names are required: the SDK skips unnamed events)."""
    data = _body(state, request, ("model", "max_tokens", "messages"))
    content, stop_reason = _content(state, data)
    block = content[0]
    output_tokens = tokens(block["text"] if block["type"] == "text" else TOOL_ARGUMENTS)
    input_tokens = _input_tokens(data)
    message = {
        "id": "msg_01" + state.rand(22),
        "type": "message",
        "role": "assistant",
        "model": data["model"],
    }
    if not data.get("stream"):
        message |= {"content": content, "stop_reason": stop_reason, "stop_sequence": None}
        return Reply(body={**message, "usage": _usage(input_tokens, output_tokens)})

    def frames() -> Iterator[bytes]:
        start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
        yield sse(
            {"type": "message_start", "message": {**start, "usage": _usage(input_tokens, 1)}}, "message_start"
        )
        opening = {"type": "text", "text": ""} if block["type"] == "text" else {**block, "input": {}}
        yield sse(
            {"type": "content_block_start", "index": 0, "content_block": opening}, "content_block_start"
        )
        yield sse({"type": "ping"}, "ping")
        if block["type"] == "text":
            deltas = [{"type": "text_delta", "text": p} for p in pieces(block["text"])]
        else:
            parts = ["", *json_pieces(TOOL_ARGUMENTS)]
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in parts]
        for part in deltas:
            yield sse({"type": "content_block_delta", "index": 0, "delta": part}, "content_block_delta")
        yield sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        # message_delta usage counts are cumulative totals
        usage = {k: v for k, v in _usage(input_tokens, output_tokens).items() if k.endswith("_tokens")}
        delta = {"stop_reason": stop_reason, "stop_sequence": None}
        final = {"type": "message_delta", "delta": delta, "usage": usage}
        yield sse(final, "message_delta")
        yield sse({"type": "message_stop"}, "message_stop")

    return Reply(stream=frames(), content_type="text/event-stream; charset=utf-8", stream_error=stream_error)


def count_tokens(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    return Reply(body={"input_tokens": _input_tokens(_body(state, request, ("model", "messages")))})


ROUTES: list[Route] = [
    ("POST", r"/messages", messages),
    ("POST", r"/messages/count_tokens", count_tokens),
]
