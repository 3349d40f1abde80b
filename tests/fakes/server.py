"""A faithful, deterministic, local LLM provider HTTP server for tests (stdlib only).

One server answers three wire formats: OpenAI under `/v1` (chat, completions, embeddings, models,
the Responses API, moderations, images, audio speech, files), Anthropic Messages at
`/v1/messages`, and the Ollama native API under `/api`. The route handlers live in `tests.fakes`;
this module keeps the HTTP server, the dispatch and the failure injection.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip as _gzip
import importlib
import json
import re
import socket
import sys
import threading
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes import (
    anthropic_routes,
    compat_routes,
    framing_routes,
    ollama_routes,
    openai_misc_routes,
    openai_routes,
    responses_routes,
)
from tests.fakes import headers as fake_headers
from tests.fakes.common import HEX, TOOL_ARGUMENTS, Abort, ProviderState, Reply, Request, find_route
from tests.fakes.openai_routes import MODELS

try:
    _brotli: Any = importlib.import_module("brotli")
except ImportError:  # optional
    _brotli = None

__all__ = ["BROTLI_AVAILABLE", "MODELS", "TOOL_ARGUMENTS", "FakeProviderServer", "Hit"]

#: Whether `FakeProviderServer(brotli=True)` is possible (the `brotli` package is importable).
BROTLI_AVAILABLE = _brotli is not None
_V1 = re.compile(r"(?:.*/v1)?(/.*)")
_OPENAI_ROUTES = [*openai_routes.ROUTES, *responses_routes.ROUTES, *openai_misc_routes.ROUTES]
_CHUNK = 1024


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


@dataclass(frozen=True)
class _Failure:
    status: int
    message: str
    headers: dict[str, str]
    error_type: str | None
    code: str | None


class _Cut(Exception):
    """Raised by a stream's frames to drop the connection mid-body (`queue_stream_cut`)."""


def _provider(path: str) -> str:
    """Which wire format a path speaks: "ollama", "anthropic" or "openai"."""
    if path == "/api" or path.startswith("/api/"):
        return "ollama"
    route = _V1.fullmatch(path)
    rest = route.group(1) if route else path
    return "anthropic" if rest == "/messages" or rest.startswith("/messages/") else "openai"


def _compress(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return _gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)  # HTTP "deflate" is the zlib format
    return bytes(_brotli.compress(data))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: FakeProviderServer

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
        """Handle any method: record the hit, then answer with a body or a stream."""
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        provider, reply = self.server.owner._handle(self.command, self.path, headers, self._read_body())
        try:
            self._stream(provider, reply) if reply.stream is not None else self._body(provider, reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except _Cut:  # end the connection with the chunked body unfinished
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

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

    def _send_head(self, status: int, provider: str, content_type: str, extra: dict[str, str]) -> None:
        """The status line and headers: the provider's usual ones (`tests.fakes.headers`), some
        sent twice (`set-cookie`), with `extra` replacing those of the same name."""
        owner = self.server.owner
        usual: fake_headers.Headers = [("content-type", content_type)]
        if provider == "openai":
            usual += fake_headers.openai_headers(owner, "req_" + owner.rand(32, HEX))
        elif provider == "anthropic":
            usual += fake_headers.anthropic_headers(owner, anthropic_routes.request_id(owner))
        overrides = {k.lower(): v for k, v in extra.items()}
        self.send_response(status)
        for name, value in [*((n, v) for n, v in usual if n not in overrides), *overrides.items()]:
            self.send_header(name, value)
        self.end_headers()

    def _encoding(self) -> str | None:
        owner = self.server.owner
        offered = {
            p.split(";")[0].strip().lower() for p in self.headers.get("Accept-Encoding", "").split(",")
        }
        for name, enabled in (("br", owner.brotli), ("gzip", owner.gzip), ("deflate", owner.deflate)):
            if enabled and name in offered:
                return name
        return None

    def _body(self, provider: str, reply: Reply) -> None:
        extra = dict(reply.headers)
        if isinstance(reply.body, bytes):
            data = reply.body
        else:
            data = json.dumps(reply.body, indent=2 if provider == "openai" else None).encode()
            encoding = self._encoding()
            if encoding is not None:
                data = _compress(encoding, data)
                extra["content-encoding"] = encoding
        if not reply.chunked:
            self._send_head(
                reply.status, provider, reply.content_type, {**extra, "content-length": str(len(data))}
            )
            self.wfile.write(data)
            return
        self._send_head(reply.status, provider, reply.content_type, {**extra, "transfer-encoding": "chunked"})
        self._chunks(data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK))

    def _stream(self, provider: str, reply: Reply) -> None:
        extra = {"transfer-encoding": "chunked", "cache-control": "no-cache", **reply.headers}
        self._send_head(reply.status, provider, reply.content_type, extra)
        self._chunks(reply.stream or ())

    def _chunks(self, frames: Iterable[bytes]) -> None:
        """Write each frame as one HTTP/1.1 chunk, flushed, then the last chunk."""
        for frame in frames:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


class FakeProviderServer(ProviderState):
    """Local OpenAI / Anthropic / Ollama server on 127.0.0.1 with deterministic replies; a context
    manager.

    `port` binds that port (0: any free one), e.g. to re-record against the same URL.
    `vary_ids=True` makes ids, timestamps, fingerprints, obfuscation, durations and request ids
    fresh per response, like the real APIs; `False` fixes them. `gzip`, `deflate` and `brotli`
    compress non-stream JSON bodies for clients that accept that encoding (`brotli` needs the
    `brotli` package: see `BROTLI_AVAILABLE`). `big_stream=n` makes every echo reply `n` numbered
    words (a stream of n content chunks); a user message `COUNT <n>` does that for one request.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        vary_ids: bool = True,
        gzip: bool = False,
        deflate: bool = False,
        brotli: bool = False,
        big_stream: int | None = None,
    ) -> None:
        if brotli and not BROTLI_AVAILABLE:
            raise RuntimeError("brotli=True needs the brotli package (check BROTLI_AVAILABLE)")
        super().__init__(vary_ids=vary_ids, big_stream=big_stream)
        self.gzip = gzip
        self.deflate = deflate
        self.brotli = brotli
        self.hits: list[Hit] = []
        self._errors: deque[_Failure] = deque()
        self._stream_errors: deque[tuple[int, _Failure]] = deque()
        self._stream_cuts: deque[int] = deque()
        self._sockets: set[socket.socket] = set()
        self._connections = 0
        self._httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Root URL, for an Anthropic client's `base_url` or an Ollama client's `host`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Base URL for an OpenAI client, ending in /v1."""
        return self.url + "/v1"

    @property
    def connections(self) -> int:
        """How many TCP connections have been accepted (to check keep-alive reuse)."""
        return self._connections

    def start(self) -> FakeProviderServer:
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

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def reset(self) -> None:
        """Forget recorded hits and queued errors (stored responses and files stay)."""
        with self._lock:
            self.hits.clear()
            self._errors.clear()
            self._stream_errors.clear()
            self._stream_cuts.clear()

    def queue_error(
        self,
        status: int,
        message: str = "Injected error",
        headers: dict[str, str] | None = None,
        error_type: str | None = None,
        code: str | None = None,
    ) -> None:
        """Answer the next request (FIFO) with `status`, the error JSON of the provider its path
        belongs to (OpenAI, Anthropic or Ollama) and extra `headers`. `error_type` defaults from
        the status; `code` is OpenAI's only."""
        with self._lock:
            self._errors.append(_Failure(status, message, dict(headers or {}), error_type, code))

    def queue_stream_error(
        self, after_chunks: int, message: str = "Injected stream error", error_type: str | None = None
    ) -> None:
        """Break the next streaming response (FIFO): send `after_chunks` events, then the error the
        provider sends mid-stream (OpenAI: `data: {"error": ...}` or a Responses `error` event;
        Anthropic: `event: error`; Ollama: an `{"error": ...}` line), then end the stream."""
        with self._lock:
            self._stream_errors.append((after_chunks, _Failure(200, message, {}, error_type, None)))

    def queue_stream_cut(self, after_chunks: int) -> None:
        """Cut the next streaming response (FIFO) at the transport: send `after_chunks` events,
        then close the connection with the chunked body unfinished (no error event, no last chunk)."""
        with self._lock:
            self._stream_cuts.append(after_chunks)

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            self._connections += add
            (self._sockets.add if add else self._sockets.discard)(sock)

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[str, Reply]:
        """Record the hit and compute (provider, reply)."""
        with self._lock:
            self.hits.append(Hit(method, target, headers, body))
            failure = self._errors.popleft() if self._errors else None
        path, _, query = target.partition("?")
        path, label = framing_routes.split(path)  # /framing/<label>: relabelled or redirected
        provider = _provider(path)
        if failure is not None:
            return provider, self._failure(provider, failure)
        redirect = framing_routes.redirect(label, path)
        if redirect is not None:
            return provider, redirect
        route = _V1.fullmatch(path)
        route_path = path if provider == "ollama" or route is None else route.group(1)
        request = Request(method, route_path, dict(parse_qsl(query)), headers, body)
        try:
            reply = self._route(provider, request, path)
        except Abort as abort:
            reply = abort.reply
        if provider == "openai" and compat_routes.applies(path):  # /compat/v1: fields left out
            reply = compat_routes.lenient(reply)
        reply = framing_routes.relabel(reply, label)
        if reply.stream is not None:
            with self._lock:
                broken = self._stream_errors.popleft() if self._stream_errors else None
            frames = self._broken(reply, *broken) if broken else self._ended(reply.stream, reply.end)
            with self._lock:
                cut = self._stream_cuts.popleft() if self._stream_cuts else None
            frames = frames if cut is None else self._cut(frames, cut)
            reply = dataclasses.replace(reply, stream=frames)
        return provider, reply

    @staticmethod
    def _ended(frames: Iterable[bytes], end: bytes) -> Iterator[bytes]:
        yield from frames
        if end:
            yield end

    @staticmethod
    def _cut(frames: Iterable[bytes], after: int) -> Iterator[bytes]:
        for sent, frame in enumerate(frames):
            if sent == after:
                break
            yield frame
        raise _Cut

    @staticmethod
    def _broken(reply: Reply, after: int, failure: _Failure) -> Iterator[bytes]:
        sent = 0
        for frame in reply.stream or ():
            if sent == after:
                break
            sent += 1
            yield frame
        if reply.stream_error is not None:
            yield reply.stream_error(sent, failure.message, failure.error_type)

    def _route(self, provider: str, request: Request, path: str) -> Reply:
        public = find_route(openai_misc_routes.PUBLIC_ROUTES, dataclasses.replace(request, path=path))
        if public is not None:
            return public[0](self, request, public[1])
        if provider == "ollama":
            found = find_route(ollama_routes.ROUTES, request)
            return found[0](self, request, found[1]) if found else ollama_routes.not_found()
        if provider == "anthropic":
            denied = anthropic_routes.check_headers(self, request)
            found = find_route(anthropic_routes.ROUTES, request)
            if denied is not None or found is None:
                return denied or anthropic_routes.error(self, 404, "Not Found", "not_found_error")
            return found[0](self, request, found[1])
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return openai_routes.error(401, openai_routes.NO_KEY_MESSAGE, code="invalid_api_key")
        found = find_route(_OPENAI_ROUTES, request)
        if found is None:
            return openai_routes.error(404, f"Invalid URL ({request.method} {path})")
        return found[0](self, request, found[1])

    def _failure(self, provider: str, failure: _Failure) -> Reply:
        status, message, error_type = failure.status, failure.message, failure.error_type
        if provider == "anthropic":
            reply = anthropic_routes.error(self, status, message, error_type)
        elif provider == "ollama":
            reply = ollama_routes.error(status, message)
        else:
            error_type = error_type or openai_routes.default_error_type(status)
            reply = openai_routes.error(status, message, error_type, code=failure.code)
        return dataclasses.replace(reply, headers={**reply.headers, **failure.headers})
