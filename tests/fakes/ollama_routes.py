"""The Ollama native API: chat, generate, embed(dings), tags and ps, as the `ollama` client reads them.

Streams are NDJSON (one object a line) and `stream` defaults to true when absent (the client
always sends it). No auth. Any model name is accepted.
"""

from __future__ import annotations

import hashlib
import math
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
    ndjson,
    pieces,
    text_of,
    tokens,
    vector,
)

JSON_TYPE = "application/json; charset=utf-8"
_DETAILS: JSON = {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"]}
OLLAMA_MODELS: list[JSON] = [
    {
        "name": "llama3.2:latest",
        "model": "llama3.2:latest",
        "modified_at": "2025-05-04T17:37:44.706015396-07:00",
        "size": 2019393189,
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "details": {**_DETAILS, "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
    },
    {
        "name": "all-minilm:latest",
        "model": "all-minilm:latest",
        "modified_at": "2025-04-28T09:12:03.51245-07:00",
        "size": 45960996,
        "digest": "1b226e2802dbb772b5fc32a58f103ca1804ef7501331012de126ab22f67475ef",
        "details": {**_DETAILS, "family": "bert", "families": ["bert"], "parameter_size": "23M"}
        | {"quantization_level": "F16"},
    },
]


def error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message}, JSON_TYPE)


def stream_error(sent: int, message: str, error_type: str | None) -> bytes:
    """A line with an `error` field: the client raises ResponseError(message) on it."""
    return ndjson({"error": message})


def not_found() -> Reply:
    return Reply(404, b"404 page not found", "text/plain")


def _body(request: Request) -> JSON:
    data = request.json()
    if data is None:
        raise Abort(error(400, "invalid character in request body"))
    if not data.get("model"):
        raise Abort(error(400, "model is required"))
    return data


def _load(state: ProviderState, data: JSON) -> str:
    """Mark the request's model loaded (unloaded by `keep_alive: 0`) and return its name."""
    name = str(data["model"])
    full = name if ":" in name else name + ":latest"
    with state._lock:
        if data.get("keep_alive") in (0, "0", "0s"):
            state.loaded_models.pop(full, None)
        else:
            state.loaded_models[full] = None
    return name


def _timings(state: ProviderState, prompt_tokens: int, eval_tokens: int) -> JSON:
    load, prompt = state.jitter(2_512_083), state.jitter(prompt_tokens * 1_250_000)
    evaluation = state.jitter(eval_tokens * 14_750_000)
    total = load + prompt + evaluation + state.jitter(1_000_000)
    times = {"total_duration": total, "load_duration": load, "prompt_eval_count": prompt_tokens}
    return {**times, "prompt_eval_duration": prompt, "eval_count": eval_tokens, "eval_duration": evaluation}


def _respond(
    state: ProviderState, data: JSON, field: str, parts: list[JSON], final: JSON, usage: tuple[int, int]
) -> Reply:
    """The single object (parts merged into `final`) or the NDJSON stream: one line per part, then
    `final` with `done: true`, `done_reason` and the timings."""
    head = {"model": data["model"]}
    last = {"done_reason": "stop", "done": True, **_timings(state, *usage)}
    if data.get("stream", True) is False:
        merged: JSON = dict(final)
        for part in parts:
            merged = _merge(merged, part, field)
        return Reply(body={**head, "created_at": state.iso_now(), **merged, **last}, content_type=JSON_TYPE)

    def frames() -> Iterator[bytes]:
        for part in parts:
            yield ndjson({**head, "created_at": state.iso_now(), **part, "done": False})
        yield ndjson({**head, "created_at": state.iso_now(), **final, **last})

    return Reply(stream=frames(), content_type="application/x-ndjson", stream_error=stream_error)


def _merge(merged: JSON, part: JSON, field: str) -> JSON:
    if field == "response":
        return {**merged, "response": merged.get("response", "") + part["response"]}
    message = {**part["message"], "content": merged["message"]["content"] + part["message"]["content"]}
    return {**merged, "message": message}


def chat(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """A ChatResponse, or its NDJSON stream; a tool call when `tools` are given and the last
    message is not a `tool` result."""
    data = _body(request)
    _load(state, data)
    messages = [m for m in data.get("messages") or [] if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    tools = [t for t in data.get("tools") or [] if isinstance(t, dict)]
    prompt_tokens = sum(tokens(text_of(m.get("content"))) for m in messages) + 10
    final = {"message": {"role": "assistant", "content": ""}}
    if last.get("role") != "tool" and tools:
        name = (tools[0].get("function") or {}).get("name") or tools[0].get("name") or "tool"
        call = {"function": {"name": name, "arguments": dict(TOOL_INPUT)}}
        part = {"message": {"role": "assistant", "content": "", "tool_calls": [call]}}
        return _respond(state, data, "message", [part], final, (prompt_tokens, tokens(TOOL_ARGUMENTS)))
    if last.get("role") == "tool":
        text = "Tool said: " + text_of(last.get("content"))
    else:
        user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        text = state.reply_text(text_of(user.get("content")))
    parts = [{"message": {"role": "assistant", "content": piece}} for piece in pieces(text)]
    return _respond(state, data, "message", parts, final, (prompt_tokens, len(parts)))


def generate(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """A GenerateResponse or its stream; an empty prompt only loads the model (`done_reason: load`)."""
    data = _body(request)
    _load(state, data)
    prompt = str(data.get("prompt") or "")
    if not prompt:
        loaded = {"model": data["model"], "created_at": state.iso_now(), "response": ""}
        body = {**loaded, "done": True, "done_reason": "load"}
        return Reply(body=body, content_type=JSON_TYPE) if data.get("stream") is False else _lines([body])
    text = state.reply_text(prompt)
    words = f"{data.get('system') or ''} {prompt} {text}".split()
    context = [int.from_bytes(hashlib.sha256(w.encode()).digest()[:2], "big") for w in words]
    parts = [{"response": piece} for piece in pieces(text)]
    final = {"response": "", "context": context}
    return _respond(state, data, "response", parts, final, (tokens(prompt) + 10, len(parts)))


def _lines(objects: list[JSON]) -> Reply:
    frames = (ndjson(o) for o in objects)
    return Reply(stream=frames, content_type="application/x-ndjson", stream_error=stream_error)


def _unit(text: str, dims: int) -> list[float]:
    values = vector(text, dims)
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embed(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """An EmbedResponse: L2-normalised vectors, `dimensions` of them (default 8)."""
    data = _body(request)
    _load(state, data)
    raw = data.get("input", "")
    texts = [str(t) for t in ([raw] if isinstance(raw, str) else raw)]
    dims = int(data.get("dimensions") or 8)
    count = sum(tokens(t) for t in texts)
    times = _timings(state, count, 0)
    body = {"model": data["model"], "embeddings": [_unit(t, dims) for t in texts]}
    body |= {k: times[k] for k in ("total_duration", "load_duration", "prompt_eval_count")}
    return Reply(body=body, content_type=JSON_TYPE)


def embeddings(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """The legacy /api/embeddings: one vector for `prompt`."""
    data = _body(request)
    _load(state, data)
    return Reply(body={"embedding": _unit(str(data.get("prompt") or ""), 8)}, content_type=JSON_TYPE)


def tags(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    return Reply(body={"models": OLLAMA_MODELS}, content_type=JSON_TYPE)


def ps(state: ProviderState, request: Request, match: re.Match[str]) -> Reply:
    """The models loaded by earlier requests, as `ollama ps` lists them."""
    with state._lock:
        names = list(state.loaded_models)
    known = {m["name"]: m for m in OLLAMA_MODELS}
    running = []
    for name in names:
        model = known.get(name) or {**OLLAMA_MODELS[0], "name": name, "model": name}
        entry = {k: model[k] for k in ("name", "model", "size", "digest", "details")}
        expires = state.iso_now(offset=300)
        running.append({**entry, "expires_at": expires, "size_vram": model["size"], "context_length": 4096})
    return Reply(body={"models": running}, content_type=JSON_TYPE)


ROUTES: list[Route] = [
    ("POST", r"/api/chat", chat),
    ("POST", r"/api/generate", generate),
    ("POST", r"/api/embed", embed),
    ("POST", r"/api/embeddings", embeddings),
    ("GET", r"/api/tags", tags),
    ("GET", r"/api/ps", ps),
]
