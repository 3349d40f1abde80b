"""OpenAI chat completions, legacy completions, embeddings and models, plus shared OpenAI errors."""

from __future__ import annotations

import base64
import json
import re
import struct
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
    vector,
)

MODELS: list[JSON] = [
    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
    {"id": "gpt-3.5-turbo-instruct", "object": "model", "created": 1692901427, "owned_by": "system"},
    {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"},
]
NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
DONE = sse("[DONE]")
_DETAILS = ("reasoning_tokens", "audio_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens")


def error_body(
    message: str, error_type: str = "invalid_request_error", code: str | None = None, param: str | None = None
) -> JSON:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error(status: int, message: str, error_type: str = "invalid_request_error", **kw: str | None) -> Reply:
    """An OpenAI error reply; keywords `code` and `param`."""
    return Reply(status, error_body(message, error_type, kw.get("code"), kw.get("param")))


def default_error_type(status: int) -> str:
    if status >= 500:
        return "server_error"
    return "requests" if status == 429 else "invalid_request_error"


def stream_error(sent: int, message: str, error_type: str | None) -> bytes:
    """Chat/completions streams report a late error as a data-only event with an `error` object
    (openai/_streaming.py raises APIError on it)."""
    return sse(error_body(message, error_type or "server_error"))


def body_of(request: Request, *, model: bool = True) -> JSON:
    """The JSON body, answering 400 like OpenAI when it is not an object or lacks `model`."""
    data = request.json()
    if data is None:
        raise Abort(error(400, "We could not parse the JSON body of your request."))
    if model and not data.get("model"):
        raise Abort(error(400, "you must provide a model parameter"))
    return data


def stream_reply(frames: Iterator[bytes], *, done: bool = True) -> Reply:
    return Reply(
        stream=frames,
        content_type="text/event-stream; charset=utf-8",
        end=DONE if done else b"",
        stream_error=stream_error,
    )


def _usage(prompt: int, completion: int, *, details: bool) -> JSON:
    usage: JSON = {"prompt_tokens": prompt, "completion_tokens": completion}
    usage["total_tokens"] = prompt + completion
    if details:
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        usage["completion_tokens_details"] = dict.fromkeys(_DETAILS, 0)
    return usage


def _base(state: ProviderState, prefix: str, obj: str, request: JSON) -> JSON:
    return {
        "id": prefix + state.rand(24),
        "object": obj,
        "created": state.timestamp(),
        "model": request["model"],
    }


def tool_name(tool: JSON) -> str:
    """Name of a tool in chat (`{"function": {"name"}}`) or flat (`{"name"}`) form."""
    function = tool.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    return str(name or tool.get("name") or "tool")


def chat(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """A ChatCompletion, or its ChatCompletionChunks when streaming."""
    data = body_of(request)
    messages = [m for m in data.get("messages") or [] if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    tools = data.get("tools") or []
    text: str | None = None
    call: JSON | None = None
    if last.get("role") == "tool":
        text = "Tool said: " + text_of(last.get("content"))
    elif tools:
        call = {"id": "call_" + state.rand(24), "type": "function"}
        call["function"] = {"name": tool_name(tools[0]), "arguments": TOOL_ARGUMENTS}
    else:
        user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        text = state.reply_text(text_of(user.get("content")))
    finish = "tool_calls" if call else "stop"
    prompt_tokens = sum(tokens(text_of(m.get("content"))) + 3 for m in messages)
    usage = _usage(prompt_tokens, tokens(text if text is not None else TOOL_ARGUMENTS), details=True)
    base = _base(state, "chatcmpl-", "chat.completion", data)
    extra = {"service_tier": "default", "system_fingerprint": "fp_" + state.rand(10, HEX)}
    if not data.get("stream"):
        message: JSON = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        if call:
            message["tool_calls"] = [call]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        return Reply(body={**base, "choices": [choice], "usage": usage, **extra})
    base = {**base, "object": "chat.completion.chunk", **extra}
    include_usage = bool((data.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: JSON, finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        usage_field = {"usage": None} if include_usage else {}
        return sse({**base, "choices": [choice], **usage_field, "obfuscation": state.obfuscation()})

    def frames() -> Iterator[bytes]:
        if call:
            start = {"index": 0, **call, "function": {**call["function"], "arguments": ""}}
            yield chunk({"role": "assistant", "content": None, "tool_calls": [start], "refusal": None})
            for part in json_pieces(TOOL_ARGUMENTS):
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
        else:
            yield chunk({"role": "assistant", "content": "", "refusal": None})
            for piece in pieces(text or ""):
                yield chunk({"content": piece})
        yield chunk({}, finish)
        if include_usage:
            yield sse({**base, "choices": [], "usage": usage, "obfuscation": state.obfuscation()})

    return stream_reply(frames())


def completion(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """A legacy Completion, or its chunks when streaming."""
    data = body_of(request)
    prompt = data.get("prompt", "")
    prompt = (prompt or [""])[0] if isinstance(prompt, list) else prompt
    prompt = prompt if isinstance(prompt, str) else json.dumps(prompt)
    text = state.reply_text(prompt)
    usage = _usage(tokens(prompt), tokens(text), details=False)
    base = _base(state, "cmpl-", "text_completion", data)
    base["system_fingerprint"] = "fp_" + state.rand(10, HEX)

    def choice(piece: str, finish_reason: str | None) -> JSON:
        return {"text": piece, "index": 0, "logprobs": None, "finish_reason": finish_reason}

    if not data.get("stream"):
        return Reply(body={**base, "choices": [choice(text, "stop")], "usage": usage})

    def frames() -> Iterator[bytes]:
        for piece in pieces(text):
            yield sse({**base, "choices": [choice(piece, None)]})
        yield sse({**base, "choices": [choice("", "stop")]})
        if (data.get("stream_options") or {}).get("include_usage"):
            yield sse({**base, "choices": [], "usage": usage})

    return stream_reply(frames())


def embeddings(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """A CreateEmbeddingResponse honouring `encoding_format` and `dimensions` (default 8)."""
    data = body_of(request)
    raw = data.get("input", "")
    single = isinstance(raw, str) or (isinstance(raw, list) and bool(raw) and isinstance(raw[0], int))
    texts = [t if isinstance(t, str) else json.dumps(t) for t in ([raw] if single else raw)]
    dims = int(data.get("dimensions") or 8)
    items = []
    for index, text in enumerate(texts):
        embedding: list[float] | str = vector(text, dims)
        if data.get("encoding_format") == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dims}f", *embedding)).decode()
        items.append({"object": "embedding", "index": index, "embedding": embedding})
    count = sum(tokens(t) for t in texts)
    usage = {"prompt_tokens": count, "total_tokens": count}
    return Reply(body={"object": "list", "data": items, "model": data["model"], "usage": usage})


def models(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    name = match.group("id")
    if name is None:
        return Reply(body={"object": "list", "data": MODELS})
    model = next((m for m in MODELS if m["id"] == name), None)
    if model is None:
        return error(404, f"The model '{name}' does not exist", code="model_not_found")
    return Reply(body=model)


ROUTES: list[Route] = [
    ("POST", r"/chat/completions", chat),
    ("POST", r"/completions", completion),
    ("POST", r"/embeddings", embeddings),
    ("GET", r"/models(?:/(?P<id>.+))?", models),
]
