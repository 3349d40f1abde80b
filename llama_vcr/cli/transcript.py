"""What ``llama-vcr show`` reads out of a recording: the messages sent and the reply received.

Knows the common LLM API shapes: OpenAI chat / completions / Responses / embeddings / model lists,
Anthropic messages, Ollama native, Gemini; anything else is summarised. Streams are assembled
from their chunks (text deltas and tool-call argument fragments).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..format.envelopes import unwrap
from ..format.wire import TEXT_KEY

_PROMPT_KEYS = (
    "prompt_tokens",
    "input_tokens",
    "promptTokenCount",
    "prompt_token_count",
    "prompt_eval_count",
)
_COMPLETION_KEYS = (
    "completion_tokens",
    "output_tokens",
    "candidatesTokenCount",
    "candidates_token_count",
    "eval_count",
)
_TOTAL_KEYS = ("total_tokens", "totalTokenCount", "total_token_count")
#: How much of an unrecognised response body ``show`` prints.
_SUMMARY_CHARS = 300


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return _dumps(part)
    text = part.get("text")
    if isinstance(text, str):
        return text
    kind = part.get("type")
    if kind == "tool_result":
        return content_text(part.get("content"))
    if kind == "tool_use":
        return f"→ {part.get('name')}({_dumps(part.get('input'))})"
    return f"[{kind}]" if kind else _dumps(part)


def content_text(content: Any) -> str:
    """A message's content as text: strings as they are, content parts joined, others as JSON."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "\n".join(text for text in map(_part_text, content) if text)
    return _part_text(content)


def _call(call: dict[str, Any]) -> dict[str, Any]:
    inner = call.get("function")
    function: dict[str, Any] = inner if isinstance(inner, dict) else call
    arguments = function.get("arguments", function.get("input"))
    return {
        "id": call.get("id") or call.get("call_id"),
        "name": function.get("name"),
        "arguments": arguments if isinstance(arguments, str) or arguments is None else _dumps(arguments),
    }


def _message(item: Any, default_role: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"role": default_role, "content": content_text(item)}
    kind = item.get("type")
    if kind == "function_call":  # Responses API input items
        return {"role": "assistant", "content": "", "tool_calls": [_call(item)]}
    if kind == "function_call_output":
        return {
            "role": "tool",
            "content": content_text(item.get("output")),
            "tool_call_id": item.get("call_id"),
        }
    message: dict[str, Any] = {
        "role": str(item.get("role") or default_role),
        "content": content_text(item.get("content", item.get("parts"))),
    }
    calls = [_call(c) for c in item.get("tool_calls") or [] if isinstance(c, dict)]
    if calls:
        message["tool_calls"] = calls
    if item.get("tool_call_id"):
        message["tool_call_id"] = item["tool_call_id"]
    return message


def request_messages(body: Any, endpoint: str) -> list[dict[str, Any]]:
    """The messages a request sent: ``{"role", "content"[, "tool_calls"][, "tool_call_id"]}``."""
    if body is None:
        return []
    if not isinstance(body, dict):
        return [{"role": "body", "content": body if isinstance(body, str) else _dumps(body)}]
    messages: list[dict[str, Any]] = []
    for key in ("system", "instructions"):
        if body.get(key):
            messages.append({"role": "system", "content": content_text(body[key])})
    for key in ("messages", "contents"):  # chat-style APIs; Gemini's contents
        messages += [_message(m, "user") for m in body.get(key) or [] if m is not None]
    responses = endpoint.rstrip("/").endswith("/responses")
    value = body.get("input")
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        messages += [_message(item, "user") for item in value]
    elif value is not None:
        items = value if isinstance(value, list) else [value]
        role = "user" if responses else "input"
        messages += [{"role": role, "content": content_text(item)} for item in items]
    prompt = body.get("prompt")
    if prompt is not None:
        items = prompt if isinstance(prompt, list) else [prompt]
        messages += [{"role": "prompt", "content": content_text(item)} for item in items]
    for key in ("tool_name", "kwargs"):  # llama-stack tool_invoke records
        if key in body:
            messages.append({"role": key, "content": content_text(body[key])})
    return messages


@dataclass
class _Reply:
    role: str | None = None
    text: list[str] = field(default_factory=list)
    calls: dict[Any, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    summary: str | None = None
    error: str | None = None

    def add_call(self, key: Any, call: dict[str, Any]) -> None:
        existing = self.calls.setdefault(key, {"id": None, "name": None, "arguments": ""})
        existing["id"] = existing["id"] or call.get("id")
        existing["name"] = existing["name"] or call.get("name")
        existing["arguments"] = (existing["arguments"] or "") + (call.get("arguments") or "")

    def add_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        for out, keys in (("prompt_tokens", _PROMPT_KEYS), ("completion_tokens", _COMPLETION_KEYS)):
            for key in keys:
                if isinstance(usage.get(key), int):
                    self.usage[out] = usage[key]
                    break
        total = next((usage[key] for key in _TOTAL_KEYS if isinstance(usage.get(key), int)), None)
        if total is not None:
            self.usage["total_tokens"] = total

    def result(self) -> dict[str, Any]:
        usage = dict(self.usage)
        if usage and "total_tokens" not in usage:
            usage["total_tokens"] = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        return {
            "role": self.role,
            "text": "".join(self.text),
            "tool_calls": list(self.calls.values()),
            "finish_reason": self.finish_reason,
            "summary": self.summary,
            "usage": usage or None,
            "error": self.error,
        }


def _error_message(data: dict[str, Any]) -> str | None:
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or _dumps(error))
    if isinstance(error, str):
        return error
    detail = data.get("detail")
    return detail if isinstance(detail, str) else None


def _choices(data: dict[str, Any], reply: _Reply, streaming: bool) -> None:
    for choice in data.get("choices") or []:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        message = choice.get("delta" if streaming else "message")
        if isinstance(message, dict):
            reply.role = message.get("role") or reply.role or "assistant"
            if isinstance(message.get("content"), str):
                reply.text.append(message["content"])
            for position, call in enumerate(message.get("tool_calls") or []):
                if isinstance(call, dict):
                    reply.add_call(call.get("index", position), _call(call))
        if isinstance(choice.get("text"), str):  # completions
            reply.text.append(choice["text"])
        reply.finish_reason = choice.get("finish_reason") or reply.finish_reason


def _blocks(blocks: list[Any], reply: _Reply) -> None:
    """Anthropic ``content`` blocks and Responses ``output`` items."""
    for position, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind in ("tool_use", "function_call"):
            reply.add_call(("block", position), _call(block))
        elif kind == "message":
            _blocks(block.get("content") or [], reply)
        elif isinstance(block.get("text"), str):
            reply.text.append(block["text"])


def _list_summary(items: list[Any]) -> str | None:
    data = [unwrap(item) for item in items]
    if data and all(isinstance(d, dict) and "embedding" in d for d in data):
        first = data[0]["embedding"]
        dims = f" x {len(first)} dims" if isinstance(first, list) else ""
        dims = " (base64)" if isinstance(first, str) else dims
        return f"{len(data)} embedding(s){dims}"
    ids = [str(d["id"]) for d in data if isinstance(d, dict) and "id" in d]
    if ids and len(ids) == len(data):
        more = f", … (+{len(ids) - 5})" if len(ids) > 5 else ""
        return f"{len(ids)} item(s): {', '.join(ids[:5])}{more}"
    return f"{len(data)} item(s)"


def _value(data: Any, reply: _Reply, streaming: bool) -> None:
    """Fold one response value (a whole body, or one streamed event) into ``reply``."""
    data = unwrap(data)
    if isinstance(data, str):
        reply.text.append(data)
        return
    if isinstance(data, list):
        reply.summary = _list_summary(data)
        return
    if not isinstance(data, dict):
        return
    if TEXT_KEY in data:
        if not streaming:
            reply.text.append(str(data[TEXT_KEY]))
        return
    reply.error = _error_message(data) or reply.error
    kind = data.get("type")
    _choices(data, reply, streaming)
    if kind == "response.output_text.delta" and isinstance(data.get("delta"), str):
        reply.text.append(data["delta"])
    elif kind == "response.output_item.done" and isinstance(data.get("item"), dict):
        if data["item"].get("type") == "function_call":
            reply.add_call(data["item"].get("id"), _call(data["item"]))
    elif kind in ("response.completed", "response.incomplete", "response.failed"):
        response = data.get("response")
        inner: dict[str, Any] = response if isinstance(response, dict) else {}
        if not reply.text and not reply.calls:
            _blocks(inner.get("output") or [], reply)
        reply.add_usage(inner.get("usage"))
        reply.finish_reason = inner.get("status") or reply.finish_reason
    elif kind == "content_block_start" and isinstance(data.get("content_block"), dict):
        block = data["content_block"]
        if block.get("type") == "tool_use":
            reply.add_call(data.get("index"), {"id": block.get("id"), "name": block.get("name")})
        elif isinstance(block.get("text"), str):
            reply.text.append(block["text"])
    elif kind == "content_block_delta" and isinstance(data.get("delta"), dict):
        delta = data["delta"]
        if isinstance(delta.get("text"), str):
            reply.text.append(delta["text"])
        elif isinstance(delta.get("partial_json"), str):
            reply.add_call(data.get("index"), {"arguments": delta["partial_json"]})
    elif kind in ("message_start", "message_delta"):
        message = data.get("message") if kind == "message_start" else data.get("delta")
        if isinstance(message, dict):
            reply.finish_reason = message.get("stop_reason") or reply.finish_reason
        reply.add_usage((message or {}).get("usage") if kind == "message_start" else data.get("usage"))
    if kind == "message" or data.get("object") == "response":
        reply.role = reply.role or "assistant"
    if not streaming or kind is None:
        if isinstance(data.get("output"), list):  # Responses API
            _blocks(data["output"], reply)
        if isinstance(data.get("content"), list):  # Anthropic messages
            _blocks(data["content"], reply)
        if isinstance(data.get("data"), list):  # embeddings, model lists
            reply.summary = _list_summary(data["data"])
        if isinstance(data.get("embeddings"), list):  # Ollama embed
            reply.summary = _list_summary([{"embedding": item} for item in data["embeddings"]])
    if isinstance(data.get("message"), dict) and "choices" not in data:  # Ollama chat
        _choices({"choices": [{"message" if not streaming else "delta": data["message"]}]}, reply, streaming)
    if isinstance(data.get("response"), str):  # Ollama generate
        reply.text.append(data["response"])
    for candidate in data.get("candidates") or []:  # Gemini
        if isinstance(candidate, dict) and isinstance(candidate.get("content"), dict):
            _blocks(candidate["content"].get("parts") or [], reply)
            finish = candidate.get("finishReason") or candidate.get("finish_reason")
            reply.finish_reason = finish or reply.finish_reason
    if not streaming and isinstance(data.get("content"), str):  # e.g. llama-stack tool results
        reply.text.append(data["content"])
    reply.finish_reason = data.get("stop_reason") or data.get("done_reason") or reply.finish_reason
    reply.add_usage(data.get("usage") or data.get("usageMetadata") or data.get("usage_metadata"))
    reply.add_usage({key: data[key] for key in ("prompt_eval_count", "eval_count") if key in data})


def reply_of(body: Any, streaming: bool) -> dict[str, Any]:
    """The reply a response carried: text (streams assembled), tool calls, finish reason, usage."""
    reply = _Reply()
    if streaming and isinstance(body, list):
        for chunk in body:
            _value(chunk, reply, streaming=True)
    elif body is not None:
        _value(body, reply, streaming=False)
    if body is not None and not (reply.text or reply.calls or reply.summary or reply.error):
        text = _dumps(unwrap(body) if not isinstance(body, list) else [unwrap(item) for item in body])
        reply.summary = text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"
    return reply.result()
