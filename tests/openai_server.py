"""A faithful, deterministic, local OpenAI-compatible HTTP server for tests (stdlib only)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import random
import re
import socket
import string
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from gzip import compress as gzip_compress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MODELS", "TOOL_ARGUMENTS", "FakeOpenAIServer", "Hit"]

JSON = dict[str, Any]
Reply = tuple[int, JSON | list[JSON], dict[str, str]]

MODELS: list[JSON] = [
    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
    {"id": "gpt-3.5-turbo-instruct", "object": "model", "created": 1692901427, "owned_by": "system"},
    {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"},
]
TOOL_ARGUMENTS = json.dumps({"city": "Paris"})
FIXED_CREATED = 1_700_000_000
NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
_RNG = random.SystemRandom()
_ALNUM = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"
_ROUTE = re.compile(r"(?:.*/v1)?/(chat/completions|completions|embeddings|models)(?:/(.+))?")
_POST_ROUTES = ("chat/completions", "completions", "embeddings")
_DETAILS = ("reasoning_tokens", "audio_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens")


@dataclass(frozen=True)
class Hit:
    """One request as received: method, path (with query), lower-cased headers and raw body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Decode the body as JSON."""
        return json.loads(self.body)


def _error(message: str, error_type: str = "invalid_request_error", code: str | None = None) -> JSON:
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def _text_of(content: object) -> str:
    """Text of a message content: a string, or a list of parts of which the "text" ones count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(str(p.get("text", "")) for p in parts)
    return ""


def _pieces(text: str) -> list[str]:
    """Split text into word deltas (spaces kept) that join back to exactly `text`."""
    return re.findall(r"\s*\S+|\s+$", text)


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


def _usage(prompt: int, completion: int, *, details: bool) -> JSON:
    usage: JSON = {"prompt_tokens": prompt, "completion_tokens": completion}
    usage["total_tokens"] = prompt + completion
    if details:
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        usage["completion_tokens_details"] = dict.fromkeys(_DETAILS, 0)
    return usage


def _vector(text: str, dims: int) -> list[float]:
    """Deterministic float32-exact values in [-1, 1) from sha256(text), hash-chained beyond 8 values."""
    values: list[float] = []
    block = hashlib.sha256(text.encode()).digest()
    while len(values) < dims:
        raw = [n / 2**31 - 1 for n in struct.unpack("<8I", block)]
        values += struct.unpack("<8f", struct.pack("<8f", *raw))
        block = hashlib.sha256(block).digest()
    return values[:dims]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client drops its connection; report anything else."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1.0"
    sys_version = ""
    server: _HTTPServer

    def log_message(self, *args: object, **kwargs: object) -> None:
        """Suppress the default stderr request log."""

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.owner._track(self.connection, add=False)
        super().finish()

    def do_GET(self) -> None:
        """Handle any method: record the hit, then answer with JSON or an SSE stream."""
        owner = self.server.owner
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        status, payload, extra = owner._handle(self.command, self.path, headers, self._read_body())
        try:
            self._stream(payload) if isinstance(payload, list) else self._json(status, payload, extra)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _read_body(self) -> bytes:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = b""
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            out += self.rfile.read(size + 2)[:-2]
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        return out

    def _send_head(self, status: int, content_type: str, extra: dict[str, str]) -> None:
        owner = self.server.owner
        ms = str(_RNG.randint(20, 900)) if owner.vary_ids else "42"
        headers = {"content-type": content_type, "x-request-id": "req_" + owner._rand(32, _HEX)}
        headers |= {"openai-processing-ms": ms, "openai-version": "2020-10-01"}
        headers |= {k.lower(): v for k, v in extra.items()}
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _json(self, status: int, payload: JSON, headers: dict[str, str]) -> None:
        data = json.dumps(payload, indent=2).encode()
        extra = dict(headers)
        if self.server.owner.gzip and "gzip" in self.headers.get("Accept-Encoding", "").lower():
            data = gzip_compress(data)
            extra["content-encoding"] = "gzip"
        extra["content-length"] = str(len(data))
        self._send_head(status, "application/json", extra)
        self.wfile.write(data)

    def _stream(self, chunks: list[JSON]) -> None:
        extra = {"transfer-encoding": "chunked", "cache-control": "no-cache"}
        self._send_head(200, "text/event-stream; charset=utf-8", extra)
        for event in [*(json.dumps(c, separators=(",", ":")) for c in chunks), "[DONE]"]:
            data = f"data: {event}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))  # one HTTP/1.1 chunk per event
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


class FakeOpenAIServer:
    """Local OpenAI-compatible server on 127.0.0.1 with deterministic replies; a context manager.

    `vary_ids=True` makes ids, `created`, fingerprints, obfuscation and request ids fresh per
    response, like the real API; `False` fixes them. `gzip=True` compresses non-stream JSON
    responses for clients that accept gzip.
    """

    def __init__(self, *, vary_ids: bool = True, gzip: bool = False) -> None:
        self.vary_ids = vary_ids
        self.gzip = gzip
        self.hits: list[Hit] = []
        self._errors: deque[tuple[int, JSON, dict[str, str]]] = deque()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._connections = 0
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """Base URL for an OpenAI client, ending in /v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def connections(self) -> int:
        """How many TCP connections have been accepted (to check keep-alive reuse)."""
        return self._connections

    def start(self) -> FakeOpenAIServer:
        """Serve from a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, drop open keep-alive connections and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def reset(self) -> None:
        """Forget recorded hits and queued errors."""
        with self._lock:
            self.hits.clear()
            self._errors.clear()

    def queue_error(
        self,
        status: int,
        message: str = "Injected error",
        headers: dict[str, str] | None = None,
        error_type: str | None = None,
        code: str | None = None,
    ) -> None:
        """Answer the next request (FIFO) with `status`, OpenAI error JSON and extra `headers`."""
        if error_type is None:
            error_type = "requests" if status == 429 else "invalid_request_error"
            error_type = "server_error" if status >= 500 else error_type
        with self._lock:
            self._errors.append((status, _error(message, error_type, code), dict(headers or {})))

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            self._connections += add
            (self._sockets.add if add else self._sockets.discard)(sock)

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Record the hit and compute (status, JSON body or stream chunks, extra headers)."""
        with self._lock:
            self.hits.append(Hit(method, target, headers, body))
            if self._errors:
                return self._errors.popleft()
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return 401, _error(NO_KEY_MESSAGE, code="invalid_api_key"), {}
        path = target.split("?", 1)[0]
        match = _ROUTE.fullmatch(path)
        route, rest = (match.group(1), match.group(2)) if match else ("", None)
        if method == "GET" and route == "models":
            model = next((m for m in MODELS if m["id"] == rest), None)
            if rest is None or model is not None:
                return 200, model or {"object": "list", "data": MODELS}, {}
            return 404, _error(f"The model '{rest}' does not exist", code="model_not_found"), {}
        builders = dict(zip(_POST_ROUTES, (self._chat, self._completion, self._embeddings), strict=True))
        if method != "POST" or route not in builders or rest is not None:
            return 404, _error(f"Invalid URL ({method} {path})"), {}
        request: object = None
        with contextlib.suppress(ValueError):
            request = json.loads(body)
        if not isinstance(request, dict):
            return 400, _error("We could not parse the JSON body of your request."), {}
        if not request.get("model"):
            return 400, _error("you must provide a model parameter"), {}
        return 200, builders[route](request), {}

    def _rand(self, length: int, alphabet: str = _ALNUM) -> str:
        return (
            "".join(_RNG.choices(alphabet, k=length)) if self.vary_ids else ("fixed" + "0" * length)[:length]
        )

    def _base(self, prefix: str, obj: str, request: JSON) -> JSON:
        created = int(time.time()) if self.vary_ids else FIXED_CREATED
        return {"id": prefix + self._rand(24), "object": obj, "created": created, "model": request["model"]}

    def _obfuscation(self) -> str:
        return self._rand(_RNG.randint(4, 16) if self.vary_ids else 8)

    def _chat(self, request: JSON) -> JSON | list[JSON]:
        """Build a ChatCompletion, or the list of ChatCompletionChunks when streaming."""
        messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
        last = messages[-1] if messages else {}
        tools = request.get("tools") or []
        text: str | None = None
        call: JSON | None = None
        if last.get("role") == "tool":
            text = "Tool said: " + _text_of(last.get("content"))
        elif tools:
            name = (tools[0].get("function") or {}).get("name") or tools[0].get("name") or "tool"
            call = {"id": "call_" + self._rand(24), "type": "function"}
            call["function"] = {"name": name, "arguments": TOOL_ARGUMENTS}
        else:
            user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
            text = "Echo: " + _text_of(user.get("content"))
        finish = "tool_calls" if call else "stop"
        prompt_tokens = sum(_tokens(_text_of(m.get("content"))) + 3 for m in messages)
        usage = _usage(prompt_tokens, _tokens(text if text is not None else TOOL_ARGUMENTS), details=True)
        base = self._base("chatcmpl-", "chat.completion", request)
        extra = {"service_tier": "default", "system_fingerprint": "fp_" + self._rand(10, _HEX)}
        if not request.get("stream"):
            message: JSON = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
            if call:
                message["tool_calls"] = [call]
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            return {**base, "choices": [choice], "usage": usage, **extra}
        base = {**base, "object": "chat.completion.chunk", **extra}
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: JSON, finish_reason: str | None = None) -> JSON:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            usage_field = {"usage": None} if include_usage else {}
            return {**base, "choices": [choice], **usage_field, "obfuscation": self._obfuscation()}

        if call:
            start = {"index": 0, **call, "function": {**call["function"], "arguments": ""}}
            first: JSON = {"role": "assistant", "content": None, "tool_calls": [start], "refusal": None}
            parts = re.findall(r"\w+|\W+", TOOL_ARGUMENTS)
            deltas: list[JSON] = [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in parts]
        else:
            first = {"role": "assistant", "content": "", "refusal": None}
            deltas = [{"content": piece} for piece in _pieces(text or "")]
        chunks = [chunk(first), *(chunk(d) for d in deltas), chunk({}, finish)]
        if include_usage:
            chunks.append({**base, "choices": [], "usage": usage, "obfuscation": self._obfuscation()})
        return chunks

    def _completion(self, request: JSON) -> JSON | list[JSON]:
        """Build a legacy Completion, or the list of Completion chunks when streaming."""
        prompt = request.get("prompt", "")
        prompt = (prompt or [""])[0] if isinstance(prompt, list) else prompt
        prompt = prompt if isinstance(prompt, str) else json.dumps(prompt)
        text = "Echo: " + prompt
        usage = _usage(_tokens(prompt), _tokens(text), details=False)
        base = self._base("cmpl-", "text_completion", request)
        base["system_fingerprint"] = "fp_" + self._rand(10, _HEX)

        def choice(piece: str, finish_reason: str | None) -> JSON:
            return {"text": piece, "index": 0, "logprobs": None, "finish_reason": finish_reason}

        if not request.get("stream"):
            return {**base, "choices": [choice(text, "stop")], "usage": usage}
        chunks = [{**base, "choices": [choice(p, None)]} for p in _pieces(text)]
        chunks.append({**base, "choices": [choice("", "stop")]})
        if (request.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": usage})
        return chunks

    def _embeddings(self, request: JSON) -> JSON:
        """Build a CreateEmbeddingResponse honouring `encoding_format` and `dimensions` (default 8)."""
        raw = request.get("input", "")
        single = isinstance(raw, str) or (isinstance(raw, list) and bool(raw) and isinstance(raw[0], int))
        texts = [t if isinstance(t, str) else json.dumps(t) for t in ([raw] if single else raw)]
        dims = int(request.get("dimensions") or 8)
        data = []
        for index, text in enumerate(texts):
            embedding: list[float] | str = _vector(text, dims)
            if request.get("encoding_format") == "base64":
                embedding = base64.b64encode(struct.pack(f"<{dims}f", *embedding)).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(_tokens(t) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return {"object": "list", "data": data, "model": request["model"], "usage": usage}
