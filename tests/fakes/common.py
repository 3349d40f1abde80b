"""What the provider route modules share: request/reply types, the server state they read, helpers."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import string
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]
#: The arguments every fake tool call carries, as the JSON string OpenAI sends.
TOOL_ARGUMENTS = json.dumps({"city": "Paris"})
TOOL_INPUT: JSON = {"city": "Paris"}
FIXED_CREATED = 1_700_000_000
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
RNG = random.SystemRandom()
_COUNT = re.compile(r"\s*COUNT\s+(\d+)\s*")


@dataclass(frozen=True)
class Request:
    """A request as a route sees it: `path` is the route path (OpenAI and Anthropic paths lose
    everything up to and including `/v1`), `query` the decoded query string."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> JSON | None:
        """The body as a JSON object, or None when it is not one."""
        with contextlib.suppress(ValueError):
            data = json.loads(self.body)
            return data if isinstance(data, dict) else None
        return None


#: Builds the frame a provider sends for an error in the middle of a stream:
#: (events already sent, message, error type or None) -> encoded frame.
StreamError = Callable[[int, str, str | None], bytes]


@dataclass
class Reply:
    """What a route answers: a JSON object, raw bytes, or a stream of encoded frames."""

    status: int = 200
    body: JSON | bytes = field(default_factory=dict)
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: Encoded frames (SSE events or NDJSON lines), one HTTP chunk each; None for a plain body.
    stream: Iterable[bytes] | None = None
    #: Sent after the last frame of a complete stream (OpenAI chat's `data: [DONE]`).
    end: bytes = b""
    stream_error: StreamError | None = None
    #: Send a bytes body with chunked transfer-encoding, as the real API does for audio.
    chunked: bool = False


class Abort(Exception):
    """Raised by a route to answer at once with `reply` (validation errors, 404s)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


Handler = Callable[["ProviderState", Request, re.Match[str]], Reply]
Route = tuple[str, str, Handler]


def find_route(routes: Iterable[Route], request: Request) -> tuple[Handler, re.Match[str]] | None:
    """The handler whose method and path pattern match `request`."""
    for method, pattern, handler in routes:
        match = re.fullmatch(pattern, request.path)
        if match and method == request.method:
            return handler, match
    return None


class ProviderState:
    """State and helpers the routes use; `FakeProviderServer` extends it.

    `vary_ids` makes ids, timestamps, durations and obfuscation fresh per response; `big_stream`
    makes every echo reply that many numbered words instead.
    """

    def __init__(self, *, vary_ids: bool, big_stream: int | None) -> None:
        self.vary_ids = vary_ids
        self.big_stream = big_stream
        self._lock = threading.Lock()
        self._serial = 0
        #: Responses API objects by id (for previous_response_id and GET /v1/responses/{id}).
        self.responses: dict[str, JSON] = {}
        #: Uploaded files by id: (FileObject, content).
        self.files: dict[str, tuple[JSON, bytes]] = {}
        #: Generated images served at /images/{name} (the `url` response format).
        self.images: dict[str, bytes] = {}
        #: Ollama models loaded by a request (for /api/ps), in load order.
        self.loaded_models: dict[str, None] = {}

    @property
    def url(self) -> str:
        """Root URL of the server, without /v1."""
        raise NotImplementedError

    def rand(self, length: int, alphabet: str = ALNUM) -> str:
        """A random id part, or a fixed one when not `vary_ids`."""
        if self.vary_ids:
            return "".join(RNG.choices(alphabet, k=length))
        return ("fixed" + "0" * length)[:length]

    def unique(self, length: int, alphabet: str = ALNUM) -> str:
        """Like `rand`, but distinct per call when not `vary_ids` too (ids of stored objects)."""
        if self.vary_ids:
            return self.rand(length, alphabet)
        with self._lock:
            self._serial += 1
            serial = str(self._serial)
        return self.rand(length - len(serial), alphabet) + serial

    def timestamp(self) -> int:
        return int(time.time()) if self.vary_ids else FIXED_CREATED

    def obfuscation(self) -> str:
        return self.rand(RNG.randint(4, 16) if self.vary_ids else 8)

    def jitter(self, value: int) -> int:
        """`value`, or a value near it when `vary_ids` (latencies, durations)."""
        return RNG.randint(value // 2, value * 2) if self.vary_ids else value

    def iso_now(self, offset: int = 0) -> str:
        """An RFC 3339 UTC timestamp with nanoseconds (like Go's time.Time in Ollama's JSON), now or
        `offset` seconds from now; fixed when not `vary_ids`."""
        ns = (time.time_ns() if self.vary_ids else FIXED_CREATED * 10**9) + offset * 10**9
        moment = datetime.fromtimestamp(ns // 10**9, UTC)
        fraction = f"{ns % 10**9:09d}".rstrip("0")
        return f"{moment:%Y-%m-%dT%H:%M:%S}" + (f".{fraction}" if fraction else "") + "Z"

    def reply_text(self, user_text: str) -> str:
        """`Echo: <text>`; `n` numbered words for a `COUNT <n>` message or when `big_stream` is set."""
        match = _COUNT.fullmatch(user_text)
        count = int(match.group(1)) if match else self.big_stream
        if count is not None:
            return " ".join(str(n) for n in range(1, count + 1))
        return "Echo: " + user_text


def text_of(content: object, kinds: tuple[str, ...] = ("text",)) -> str:
    """Text of a message content: a string, or a list of parts of which those of `kinds` count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p for p in content if isinstance(p, dict) and p.get("type") in kinds]
        return "".join(str(p.get("text", "")) for p in parts)
    return ""


def pieces(text: str) -> list[str]:
    """Split text into word deltas (spaces kept) that join back to exactly `text`."""
    return re.findall(r"\s*\S+|\s+$", text)


def json_pieces(text: str) -> list[str]:
    """Split a JSON string into the small fragments providers stream tool arguments in."""
    return re.findall(r"\w+|\W+", text)


def tokens(text: str) -> int:
    return max(1, len(text.split()))


def vector(text: str, dims: int) -> list[float]:
    """Deterministic float32-exact values in [-1, 1) from sha256(text), hash-chained beyond 8 values."""
    values: list[float] = []
    block = hashlib.sha256(text.encode()).digest()
    while len(values) < dims:
        raw = [n / 2**31 - 1 for n in struct.unpack("<8I", block)]
        values += struct.unpack("<8f", struct.pack("<8f", *raw))
        block = hashlib.sha256(block).digest()
    return values[:dims]


def dumps(payload: object) -> str:
    return json.dumps(payload, separators=(",", ":"))


def sse(data: object, event: str | None = None) -> bytes:
    """One server-sent event; `data` is JSON-encoded unless it is already a string."""
    line = data if isinstance(data, str) else dumps(data)
    return (f"event: {event}\n" if event else "").encode() + f"data: {line}\n\n".encode()


def ndjson(data: object) -> bytes:
    """One newline-delimited JSON line."""
    return (dumps(data) + "\n").encode()
