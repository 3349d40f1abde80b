"""The OpenAI Responses API: create (plain and streamed), retrieve (plain and streamed), delete.

Every created response is stored by id (unless `store: false`), so `previous_response_id` chains
work and an unknown id answers 404 like the real API. A chained reply is prefixed `Turn <n>: `
with n the chain length.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from .common import (
    HEX,
    JSON,
    TOOL_ARGUMENTS,
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
from .openai_routes import body_of, error

_TEXT_KINDS = ("input_text", "output_text", "text")
_OPEN = {"status": "in_progress"}


def stream_error(sent: int, message: str, error_type: str | None) -> bytes:
    """An `error` event: the live API nests the error object (the documented flat shape is not what
    is sent), which is also what makes openai/_streaming.py raise APIError."""
    kind = error_type or "server_error"
    payload = {"type": "error", "sequence_number": sent}
    payload["error"] = {"type": kind, "code": kind, "message": message, "param": None}
    return sse(payload, "error")


def _items(data: JSON) -> list[JSON]:
    raw = data.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    return [item for item in raw or [] if isinstance(item, dict)]


def _output_text(output: object) -> str:
    return output if isinstance(output, str) else text_of(output, _TEXT_KINDS)


def _chain_length(state: ProviderState, response: JSON) -> int:
    seen = {response["id"]}
    while (previous := state.responses.get(response.get("previous_response_id") or "")) is not None:
        if previous["id"] in seen:
            break
        seen.add(previous["id"])
        response = previous
    return len(seen)


def _tools(data: JSON) -> list[JSON]:
    echoed = []
    for tool in data.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") == "function":
            fields = {"description": None, "parameters": None, **tool, "strict": tool.get("strict", True)}
            tool = {"type": "function", **fields}
        echoed.append(tool)
    return echoed


def _output(state: ProviderState, data: JSON, turn: int) -> tuple[list[JSON], str]:
    """The output items, and the text they carry (for usage)."""
    items = _items(data)
    last = items[-1] if items else {}
    functions = [t for t in data.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"]
    if last.get("type") != "function_call_output" and functions:
        item = {"id": "fc_" + state.rand(50, HEX), "type": "function_call", "status": "completed"}
        item |= {"arguments": TOOL_ARGUMENTS, "call_id": "call_" + state.rand(24)}
        return [{**item, "name": str(functions[0].get("name") or "tool")}], TOOL_ARGUMENTS
    if last.get("type") == "function_call_output":
        text = "Tool said: " + _output_text(last.get("output"))
    else:
        user = next((i for i in reversed(items) if i.get("role") == "user"), {})
        text = state.reply_text(text_of(user.get("content"), _TEXT_KINDS))
    text = f"Turn {turn}: {text}" if turn > 1 else text
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    message = {"id": "msg_" + state.rand(50, HEX), "type": "message", "status": "completed"}
    return [{**message, "content": [part], "role": "assistant"}], text


def _usage(data: JSON, output_text: str) -> JSON:
    prompt = [text_of(i.get("content"), _TEXT_KINDS) or _output_text(i.get("output")) for i in _items(data)]
    input_tokens = sum(tokens(t) + 3 for t in prompt) + tokens(str(data.get("instructions") or ""))
    output_tokens = tokens(output_text)
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _response(state: ProviderState, data: JSON, turn: int) -> JSON:
    output, text = _output(state, data, turn)
    created = state.timestamp()
    reasoning = data.get("reasoning") or {}
    return {
        "id": "resp_" + state.unique(50, HEX),
        "object": "response",
        "created_at": created,
        "status": "completed",
        "background": bool(data.get("background")),
        "completed_at": created,
        "error": None,
        "incomplete_details": None,
        "instructions": data.get("instructions"),
        "max_output_tokens": data.get("max_output_tokens"),
        "max_tool_calls": data.get("max_tool_calls"),
        "model": data["model"],
        "output": output,
        "parallel_tool_calls": data.get("parallel_tool_calls", True),
        "previous_response_id": data.get("previous_response_id"),
        "prompt_cache_key": data.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": data.get("safety_identifier"),
        "service_tier": "default",
        "store": data.get("store", True) is not False,
        "temperature": data.get("temperature", 1.0),
        "text": data.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": data.get("tool_choice", "auto"),
        "tools": _tools(data),
        "top_logprobs": data.get("top_logprobs", 0),
        "top_p": data.get("top_p", 1.0),
        "truncation": data.get("truncation", "disabled"),
        "usage": _usage(data, text),
        "user": data.get("user"),
        "metadata": data.get("metadata") or {},
    }


def _events(state: ProviderState, response: JSON) -> Iterator[bytes]:
    """The event sequence the API streams for a finished `response`."""
    numbers = itertools.count()

    def event(kind: str, **fields: object) -> bytes:
        return sse({"type": kind, "sequence_number": next(numbers), **fields}, kind)

    pending = {**response, "status": "in_progress", "completed_at": None, "output": [], "usage": None}
    yield event("response.created", response=pending)
    yield event("response.in_progress", response=pending)
    for index, item in enumerate(response["output"]):
        if item["type"] == "message":
            yield event(
                "response.output_item.added", output_index=index, item={**item, **_OPEN, "content": []}
            )
            for content_index, part in enumerate(item["content"]):
                ids = {"item_id": item["id"], "output_index": index, "content_index": content_index}
                yield event("response.content_part.added", **ids, part={**part, "text": ""})
                for piece in pieces(part["text"]):
                    delta = {"delta": piece, "logprobs": [], "obfuscation": state.obfuscation()}
                    yield event("response.output_text.delta", **ids, **delta)
                yield event("response.output_text.done", **ids, text=part["text"], logprobs=[])
                yield event("response.content_part.done", **ids, part=part)
        else:
            yield event(
                "response.output_item.added", output_index=index, item={**item, **_OPEN, "arguments": ""}
            )
            ids = {"item_id": item["id"], "output_index": index}
            for piece in json_pieces(item["arguments"]):
                delta = {"delta": piece, "obfuscation": state.obfuscation()}
                yield event("response.function_call_arguments.delta", **ids, **delta)
            yield event("response.function_call_arguments.done", **ids, arguments=item["arguments"])
        yield event("response.output_item.done", output_index=index, item=item)
    yield event("response.completed", response=response)


def _stream(state: ProviderState, response: JSON, starting_after: int = -1) -> Reply:
    frames = itertools.islice(_events(state, response), starting_after + 1, None)
    return Reply(stream=frames, content_type="text/event-stream; charset=utf-8", stream_error=stream_error)


def create(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    data = body_of(request)
    turn = 1
    previous_id = data.get("previous_response_id")
    if previous_id is not None:
        previous = state.responses.get(str(previous_id))
        if previous is None:
            message = f"Previous response with id '{previous_id}' not found."
            raise Abort(error(404, message, param="previous_response_id", code="previous_response_not_found"))
        turn = _chain_length(state, previous) + 1
    response = _response(state, data, turn)
    if response["store"]:
        state.responses[response["id"]] = response
    return _stream(state, response) if data.get("stream") else Reply(body=response)


def _stored(state: ProviderState, match: re.Match[str]) -> JSON:
    response = state.responses.get(match.group("id"))
    if response is None:
        raise Abort(error(404, f"Response with id '{match.group('id')}' not found."))
    return response


def retrieve(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """A stored response; `?stream=true[&starting_after=n]` replays its events (`responses.stream(
    response_id=...)`)."""
    response = _stored(state, match)
    if request.query.get("stream") == "true":
        return _stream(state, response, int(request.query.get("starting_after") or -1))
    return Reply(body=response)


def delete(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    response = _stored(state, match)
    state.responses.pop(response["id"], None)
    return Reply(body={"id": response["id"], "object": "response", "deleted": True})


ROUTES: list[Route] = [
    ("POST", r"/responses", create),
    ("GET", r"/responses/(?P<id>[^/]+)", retrieve),
    ("DELETE", r"/responses/(?P<id>[^/]+)", delete),
]
