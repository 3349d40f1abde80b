"""Errors replay as the errors they were: HTTP 4xx/5xx, SDK retries, and streams broken part-way.

The SDK must raise the same exception class with the same status, message and body on replay as
it did live, read the same headers (``retry-after``, request ids), retry in the same order, and
yield the same chunks before a mid-stream error.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import Any

import anthropic
import ollama
import openai
import pytest

from llama_vcr import recording_files
from tests.fakes.server import FakeProviderServer
from tests.providers.support import (
    API_KEY,
    OFFLINE_URL,
    cassette,
    documents,
    dumped,
    make_vcr,
    masked,
)

CHAT = [{"role": "user", "content": "Hello errors"}]
CLAUDE = "claude-test-model"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def oai(root: str, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=root + "/v1", api_key=API_KEY, max_retries=retries)


def claude(root: str, retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=root, api_key=API_KEY, max_retries=retries)


def described(exc: BaseException) -> dict[str, Any]:
    """What a test can see of an SDK error, with the ids recordings normalise masked."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", {}) or {}
    return {
        "type": type(exc),
        "status": getattr(exc, "status_code", None),
        "message": re.sub(r"'request_id': '[^']*'", "'request_id': <id>", str(exc)),
        "body": masked(getattr(exc, "body", None)),
        "retry-after": headers.get("retry-after"),
        "has request id": bool(getattr(exc, "request_id", None)),
    }


def caught(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        call()
    except Exception as exc:
        return described(exc)
    raise AssertionError("no error was raised")


def record_and_replay(
    tmp_path: Path, scenario: Callable[[str], Any], schema: Any, queue: Callable[[FakeProviderServer], None]
) -> tuple[Any, Any, list[dict[str, Any]]]:
    directory = tmp_path / "t"
    with FakeProviderServer() as server, cassette(directory, "once"):
        queue(server)
        live = scenario(server.url)
    with cassette(directory, "none") as cass:
        replayed = scenario(OFFLINE_URL)
        assert cass.all_played
    return live, replayed, documents(directory, schema)


# --- HTTP errors -------------------------------------------------------------------------------------

OPENAI_ERRORS = [
    (429, openai.RateLimitError, {"retry-after": "7"}),
    (400, openai.BadRequestError, {}),
    (401, openai.AuthenticationError, {}),
    (500, openai.InternalServerError, {}),
]


@pytest.mark.parametrize(
    ("status", "error", "headers"), OPENAI_ERRORS, ids=[str(e[0]) for e in OPENAI_ERRORS]
)
def test_openai_http_errors_replay_as_the_same_exception(
    tmp_path: Path, recording_schema: Any, status: int, error: type[Exception], headers: dict[str, str]
) -> None:
    def scenario(root: str) -> list[dict[str, Any]]:
        c = oai(root)
        return [
            caught(lambda: c.chat.completions.create(model="gpt-4o-mini", messages=CHAT)),
            caught(lambda: c.models.retrieve("no-such-model")),  # a real 404 from the server
        ]

    live, replayed, docs = record_and_replay(
        tmp_path, scenario, recording_schema, lambda s: s.queue_error(status, "Injected failure", headers)
    )
    assert replayed == live
    assert replayed[0]["type"] is error and replayed[0]["status"] == status
    assert replayed[0]["has request id"]  # the SDK read x-request-id from the replayed headers
    assert replayed[1]["type"] is openai.NotFoundError
    assert replayed[0]["body"]["message"] == "Injected failure"
    [failed] = [d for d in docs if d["request"]["endpoint"] == "/v1/chat/completions"]
    response = failed["response"]
    assert response["status"] == status and response["is_streaming"] is False
    assert response["body"]["error"]["message"] == "Injected failure"  # plain JSON, untyped
    assert response["headers"]["x-request-id"].startswith("req_rec-")
    assert {k: v for k, v in response["headers"].items() if k == "retry-after"} == headers


@pytest.mark.anyio
async def test_async_openai_http_error_replays_as_the_same_exception(
    tmp_path: Path, recording_schema: Any
) -> None:
    async def scenario(root: str) -> dict[str, Any]:
        async with openai.AsyncOpenAI(base_url=root + "/v1", api_key=API_KEY, max_retries=0) as c:
            try:
                await c.responses.create(model="gpt-4o-mini", input="x", previous_response_id="resp_missing")
            except openai.APIError as exc:
                return described(exc)
        raise AssertionError("no error was raised")

    directory = tmp_path / "t"
    with FakeProviderServer() as server, cassette(directory, "once"):
        live = await scenario(server.url)
    with cassette(directory, "none"):
        replayed = await scenario(OFFLINE_URL)
    assert replayed == live and replayed["type"] is openai.NotFoundError
    assert replayed["body"]["code"] == "previous_response_not_found"
    documents(directory, recording_schema)


ANTHROPIC_ERRORS = [
    (429, anthropic.RateLimitError),
    (400, anthropic.BadRequestError),
    (529, anthropic.OverloadedError),
    (500, anthropic.InternalServerError),
]


@pytest.mark.parametrize(("status", "error"), ANTHROPIC_ERRORS, ids=[str(e[0]) for e in ANTHROPIC_ERRORS])
def test_anthropic_http_errors_replay_as_the_same_exception(
    tmp_path: Path, recording_schema: Any, status: int, error: type[Exception]
) -> None:
    def scenario(root: str) -> dict[str, Any]:
        return caught(lambda: claude(root).messages.create(model=CLAUDE, max_tokens=9, messages=CHAT))

    live, replayed, docs = record_and_replay(
        tmp_path,
        scenario,
        recording_schema,
        lambda s: s.queue_error(status, "Injected", {"retry-after": "3"}),
    )
    assert replayed == live and replayed["type"] is error and replayed["status"] == status
    assert replayed["body"]["error"]["message"] == "Injected" and replayed["retry-after"] == "3"
    [document] = docs
    stored = document["response"]
    assert stored["status"] == status and stored["headers"]["request-id"].startswith("req_rec-")
    assert stored["body"]["request_id"].startswith("rec-")  # an id in an error body is normalised too


def test_ollama_errors_replay_as_response_error(tmp_path: Path, recording_schema: Any) -> None:
    def scenario(root: str) -> list[Any]:
        c = ollama.Client(host=root)
        out = []
        for call in (
            lambda: c.chat(model="llama3.2", messages=CHAT),
            lambda: c.pull("llama3.2", stream=False),  # a real 404, in plain text, from the server
        ):
            try:
                call()
            except ollama.ResponseError as exc:
                out.append((type(exc), exc.status_code, exc.error))
        return out

    live, replayed, docs = record_and_replay(
        tmp_path, scenario, recording_schema, lambda s: s.queue_error(503, "server busy")
    )
    expected = [(ollama.ResponseError, 503, "server busy"), (ollama.ResponseError, 404, "404 page not found")]
    assert replayed == live == expected
    bodies = {d["response"]["status"]: d["response"]["body"] for d in docs}
    assert bodies == {503: {"error": "server busy"}, 404: {"__text__": "404 page not found"}}


# --- SDK retries -------------------------------------------------------------------------------------


def test_sdk_retries_record_and_replay_in_order(tmp_path: Path, recording_schema: Any) -> None:
    prompt = [{"role": "user", "content": "stream it"}]

    def scenario(root: str, server: FakeProviderServer | None = None) -> list[Any]:
        if server:  # the OpenAI SDK gets a 429 first, the Anthropic SDK a 429 then a 529
            server.queue_error(429, "Slow down", {"retry-after-ms": "1"}, error_type="rate_limit_error")
        chat = oai(root, retries=2).chat.completions.create(model="gpt-4o-mini", messages=CHAT)
        if server:
            server.queue_error(429, "Slow down", {"retry-after-ms": "1"})
            server.queue_error(529, "Overloaded", {"retry-after-ms": "1"})
        message = claude(root, retries=2).messages.create(model=CLAUDE, max_tokens=9, messages=CHAT)
        if server:  # a stream is retried too
            server.queue_error(503, "Unavailable", {"retry-after-ms": "1"})
        chunks = list(
            oai(root, retries=2).chat.completions.create(model="gpt-4o-mini", messages=prompt, stream=True)
        )
        if server:  # x-should-retry: false stops a retry
            server.queue_error(500, "Give up", {"x-should-retry": "false"})
        gave_up = caught(
            lambda: claude(root, retries=2).messages.create(model=CLAUDE, max_tokens=9, messages=prompt)
        )
        return [chat, message, chunks, gave_up]

    directory = tmp_path / "t"
    with FakeProviderServer() as server, cassette(directory, "once"):
        live = scenario(server.url, server)
        assert len(server.hits) == 8
    docs = documents(directory, recording_schema)
    with cassette(directory, "none") as cass:
        replayed = scenario(OFFLINE_URL)  # a retry the SDK did not make live would be a replay miss
        assert cass.all_played  # ...and one it skipped would leave a recording unplayed
    assert masked(dumped(replayed)) == masked(dumped(live))
    assert replayed[3]["type"] is anthropic.InternalServerError and replayed[3]["status"] == 500
    statuses: dict[str, list[int]] = {}
    for path, document in zip(recording_files(directory), docs, strict=True):
        statuses.setdefault(path.name[:64], []).append(document["response"]["status"])
        occurrence = document.get("occurrence", 1)
        assert path.name[64:] == (".json" if occurrence == 1 else f"-{occurrence}.json")
    assert sorted(statuses.values()) == [[429, 200], [429, 529, 200], [500], [503, 200]]
    failed = [d["response"]["headers"] for d in docs if d["response"]["status"] >= 400]
    assert sum(h.get("retry-after-ms") == "1" for h in failed) == 4
    assert sum(h.get("x-should-retry") == "false" for h in failed) == 1


@pytest.mark.anyio
async def test_async_sdk_retry_records_and_replays_in_order(tmp_path: Path, recording_schema: Any) -> None:
    async def scenario(root: str) -> Any:
        async with openai.AsyncOpenAI(base_url=root + "/v1", api_key=API_KEY, max_retries=2) as c:
            return await c.embeddings.create(
                model="text-embedding-3-small", input="retry", encoding_format="float"
            )

    directory = tmp_path / "t"
    with FakeProviderServer() as server, cassette(directory, "once"):
        server.queue_error(500, "Oops", {"retry-after-ms": "1"})
        live = await scenario(server.url)
    with cassette(directory, "none") as cass:
        replayed = await scenario(OFFLINE_URL)
        assert cass.all_played
    assert replayed == live
    assert [d["response"]["status"] for d in documents(directory, recording_schema)] == [500, 200]


# --- streams that break part-way ---------------------------------------------------------------------


def drained(stream: Iterable[Any]) -> tuple[list[Any], dict[str, Any] | None]:
    chunks: list[Any] = []
    try:
        for chunk in stream:
            chunks.append(chunk)
    except Exception as exc:
        return masked(dumped(chunks)), described(exc)
    return masked(dumped(chunks)), None


async def adrained(stream: AsyncIterable[Any]) -> tuple[list[Any], dict[str, Any] | None]:
    chunks: list[Any] = []
    try:
        async for chunk in stream:
            chunks.append(chunk)
    except Exception as exc:
        return masked(dumped(chunks)), described(exc)
    return masked(dumped(chunks)), None


STREAMS: dict[str, Callable[[str], Iterable[Any]]] = {
    "openai-chat": lambda root: oai(root).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "one two three four five"}], stream=True
    ),
    "openai-responses": lambda root: oai(root).responses.create(
        model="gpt-4o-mini", input="one two three four five", stream=True
    ),
    "anthropic": lambda root: claude(root).messages.create(
        model=CLAUDE,
        max_tokens=9,
        messages=[{"role": "user", "content": "one two three four five"}],
        stream=True,
    ),
    "ollama": lambda root: ollama.Client(host=root).chat(
        model="llama3.2", messages=[{"role": "user", "content": "one two three four five"}], stream=True
    ),
}
STREAM_ERRORS = {
    "openai-chat": openai.APIError,
    "openai-responses": openai.APIError,
    "anthropic": anthropic.APIStatusError,
    "ollama": ollama.ResponseError,
}


@pytest.mark.parametrize("provider", list(STREAMS))
def test_a_stream_that_errors_part_way_replays_the_same_chunks_then_the_error(
    tmp_path: Path, recording_schema: Any, provider: str
) -> None:
    live, replayed, [document] = record_and_replay(
        tmp_path,
        lambda root: drained(STREAMS[provider](root)),
        recording_schema,
        lambda s: s.queue_stream_error(4, "Stream broke", error_type="overloaded_error"),
    )
    chunks, error = replayed
    assert replayed == live
    assert error is not None and issubclass(error["type"], STREAM_ERRORS[provider])
    assert "Stream broke" in error["message"]
    assert 0 < len(chunks) <= 4
    stored = document["response"]
    assert stored["is_streaming"] and stored["status"] == 200 and len(stored["body"]) == 5
    assert stored.get("sse_done") in (False, None)  # the broken stream never sent [DONE]
    assert "Stream broke" in str(stored["body"][-1])


@pytest.mark.anyio
@pytest.mark.parametrize("provider", ["openai-chat", "anthropic"])
async def test_async_stream_that_errors_part_way_replays_the_same(
    tmp_path: Path, recording_schema: Any, provider: str
) -> None:
    async def scenario(root: str) -> Any:
        content = [{"role": "user", "content": "one two three four five"}]
        if provider == "anthropic":
            async with anthropic.AsyncAnthropic(base_url=root, api_key=API_KEY, max_retries=0) as c:
                stream = await c.messages.create(model=CLAUDE, max_tokens=9, messages=content, stream=True)
                return await adrained(stream)
        async with openai.AsyncOpenAI(base_url=root + "/v1", api_key=API_KEY, max_retries=0) as o:
            chunks = await o.chat.completions.create(model="gpt-4o-mini", messages=content, stream=True)
            return await adrained(chunks)

    directory = tmp_path / "t"
    with FakeProviderServer() as server, cassette(directory, "once"):
        server.queue_stream_error(3, "Async stream broke")
        live = await scenario(server.url)
    with cassette(directory, "none"):
        replayed = await scenario(OFFLINE_URL)
    assert replayed == live and live[1] is not None and "Async stream broke" in live[1]["message"]
    documents(directory, recording_schema)


@pytest.mark.parametrize("sdk", ["openai", "anthropic", "ollama"])
def test_a_replay_miss_is_raised_at_once_by_every_sdk(tmp_path: Path, sdk: str) -> None:
    from llama_vcr import RecordingNotFound

    calls = {
        "openai": lambda: openai.OpenAI(
            base_url=f"{OFFLINE_URL}/v1", api_key="sk-x", max_retries=5
        ).models.list(),
        "anthropic": lambda: anthropic.Anthropic(
            base_url=OFFLINE_URL, api_key="sk-x", max_retries=5
        ).messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}]),
        "ollama": lambda: ollama.Client(host=OFFLINE_URL).list(),
    }
    start = time.monotonic()
    with (
        make_vcr("none").use_cassette(str(tmp_path / "t")),
        pytest.raises(RecordingNotFound, match="llama-vcr"),
    ):
        calls[sdk]()
    assert time.monotonic() - start < 1.0, f"{sdk} retried a replay miss"
