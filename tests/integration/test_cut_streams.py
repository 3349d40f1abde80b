"""A body the server cuts off mid-stream is recorded as the chunks that arrived plus the transport
error, and replays the same chunks, then the same error (issue 10).

The local server closes the connection in the middle of a chunked stream (``queue_stream_cut``):
no error event, no last chunk, as when a proxy or the provider drops the connection. Each scenario
runs three times: live with no cassette (what the client does on its own), recording, and
replaying with no server; all three must see the same chunks and the same exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import ollama
import openai
import pytest
import requests

from llama_vcr import recording_files
from tests.fakes.server import FakeProviderServer
from tests.providers.support import OFFLINE_URL, cassette, documents

#: The message httpx and httpx2 give when a chunked body ends without its last chunk.
CUT_MESSAGE = "peer closed connection without sending complete message body (incomplete chunked read)"
PROMPT = {"role": "user", "content": "COUNT 5"}
#: What a scenario saw: what arrived before the error, and the error (class, cause class).
Seen = tuple[Any, tuple[str, str | None]]


def _connection_errors() -> tuple[type[BaseException], ...]:
    """What a cut stream raises through the openai SDK: openai 3.x wraps the transport error in
    ``APIConnectionError``; openai 2.x lets httpx's own error out of a stream's iteration."""
    errors: list[type[BaseException]] = [openai.APIConnectionError]
    for name in ("httpx", "httpx2"):
        if importlib.util.find_spec(name) is not None:
            errors.append(importlib.import_module(name).TransportError)
    return tuple(errors)


CONNECTION_ERRORS = _connection_errors()


def class_name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def seen_error(exc: BaseException, *, cause: bool = True) -> tuple[str, str | None]:
    """The exception's class and (for an SDK's, which wraps the client's) its cause's class."""
    wrapped = exc.__cause__ if cause else None
    return class_name(exc), None if wrapped is None else class_name(wrapped)


def contents(raw: bytes) -> list[str | None]:
    """The delta text of each chat completion chunk in raw Server-Sent Events (ids vary: not compared)."""
    lines = [line[6:] for line in raw.decode().splitlines() if line.startswith("data: {")]
    return [json.loads(line)["choices"][0]["delta"].get("content") for line in lines]


def chat_body() -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [PROMPT], "stream": True}


# --- scenarios: (root URL) -> what the client saw ---------------------------------------------------


def openai_sync(root: str) -> Seen:
    client = openai.OpenAI(base_url=root + "/v1", api_key="sk-cut-test")
    got: list[str | None] = []
    with pytest.raises(CONNECTION_ERRORS) as raised:
        for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=[PROMPT], stream=True):  # type: ignore[list-item]
            got.append(chunk.choices[0].delta.content)
    return got, seen_error(raised.value, cause=isinstance(raised.value, openai.APIError))


def openai_async(root: str) -> Seen:
    async def run() -> Seen:
        client = openai.AsyncOpenAI(base_url=root + "/v1", api_key="sk-cut-test")
        got: list[str | None] = []
        with pytest.raises(CONNECTION_ERRORS) as raised:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[PROMPT],  # type: ignore[list-item]
                stream=True,
            )
            async for chunk in stream:
                got.append(chunk.choices[0].delta.content)
        return got, seen_error(raised.value, cause=isinstance(raised.value, openai.APIError))

    return asyncio.run(run())


def raw_httpx(module_name: str, way: str) -> Callable[[str], Seen]:
    module = importlib.import_module(module_name)

    def sync(root: str) -> Seen:
        got = b""
        with (
            pytest.raises(module.TransportError) as raised,
            module.Client() as client,
            client.stream("POST", root + "/v1/chat/completions", json=chat_body(), headers=AUTH) as response,
        ):
            for part in response.iter_raw():
                got += part
        return contents(got), seen_error(raised.value, cause=False)

    def run_async(root: str) -> Seen:
        async def run() -> Seen:
            got = b""
            with pytest.raises(module.TransportError) as raised:
                async with (
                    module.AsyncClient() as client,
                    client.stream(
                        "POST", root + "/v1/chat/completions", json=chat_body(), headers=AUTH
                    ) as response,
                ):
                    async for part in response.aiter_raw():
                        got += part
            return contents(got), seen_error(raised.value, cause=False)

        return asyncio.run(run())

    return sync if way == "sync" else run_async


AUTH = {"authorization": "Bearer sk-cut-test"}


def requests_stream(root: str) -> Seen:
    got = b""
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as raised:
        response = requests.post(root + "/v1/chat/completions", json=chat_body(), headers=AUTH, stream=True)
        for part in response.iter_content(None):
            got += part
    return contents(got), seen_error(raised.value)


def requests_whole(root: str) -> Seen:
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as raised:
        requests.post(root + "/v1/chat/completions", json=chat_body(), headers=AUTH)
    return [], seen_error(raised.value)


def anthropic_sync(root: str) -> Seen:
    client = anthropic.Anthropic(base_url=root, api_key="sk-ant-cut-test")
    got: list[str] = []
    with pytest.raises(Exception) as raised:  # (the Anthropic SDK lets the client's error through)
        messages = [{"role": "user", "content": "COUNT 5"}]
        stream = client.messages.create(model="claude-x", max_tokens=64, messages=messages, stream=True)  # type: ignore[arg-type]
        for event in stream:
            got.append(event.type)
    return got, seen_error(raised.value, cause=False)


def ollama_sync(root: str) -> Seen:
    client = ollama.Client(host=root)
    got: list[str] = []
    with pytest.raises(Exception) as raised:  # (ollama lets the client's error through)
        for part in client.chat(model="llama3.2", messages=[PROMPT], stream=True):
            got.append(part.message.content or "")
    return got, seen_error(raised.value, cause=False)


SCENARIOS: dict[str, Callable[[str], Seen]] = {
    "openai-sync": openai_sync,
    "openai-async": openai_async,
    "anthropic-sync": anthropic_sync,
    "ollama-sync": ollama_sync,
    **{
        f"{module}-{way}": raw_httpx(module, way)
        for module in ("httpx", "httpx2")
        for way in ("sync", "async")
        if importlib.util.find_spec(module)
    },
    "requests-stream": requests_stream,
    "requests-whole": requests_whole,
}


@contextlib.contextmanager
def cut_server(after: int) -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        server.queue_stream_cut(after)
        yield server


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_cut_stream_replays_the_chunks_that_arrived_then_the_same_error(
    name: str, tmp_path: Path, recording_schema: Any
) -> None:
    scenario = SCENARIOS[name]
    with cut_server(2) as server:
        unrecorded = scenario(server.url)
    with cut_server(2) as server, cassette(tmp_path, "once"):
        live = scenario(server.url)
        hits = len(server.hits)
    with cassette(tmp_path, "none") as replay:
        replayed = scenario(OFFLINE_URL)
        assert replay.all_played
    assert live == unrecorded  # recording changes nothing the client sees
    assert replayed == live
    assert hits == 1  # the SDK did not retry: the error came while it read the stream
    (doc,) = documents(tmp_path, recording_schema)
    response = doc["response"]
    assert response["is_streaming"] is True and not response.get("sse_done")
    assert len(response["body"]) == 2
    if name.startswith("requests"):  # urllib3's error, which requests raises as ChunkedEncodingError
        expected = {"type": "urllib3.exceptions.ProtocolError", "message": "Response ended prematurely"}
    else:  # the client's own class: httpx.RemoteProtocolError, or httpx2's (an SDK's cause)
        client_error = live[1][1] or live[1][0]  # (openai 3.x wraps it; 2.x lets it through)
        expected = {"type": client_error, "message": CUT_MESSAGE}
    assert response["transport_error"] == expected


@pytest.mark.parametrize("after", [0, 1, 6])
def test_a_stream_cut_before_any_chunk_or_late_replays_the_same(tmp_path: Path, after: int) -> None:
    with cut_server(after) as server, cassette(tmp_path, "once"):
        live = openai_sync(server.url)
    with cassette(tmp_path, "none"):
        replayed = openai_sync(OFFLINE_URL)
    assert replayed == live and len(live[0]) == after


def test_a_whole_stream_has_no_transport_error(tmp_path: Path, recording_schema: Any) -> None:
    with FakeProviderServer() as server, cassette(tmp_path, "once"):
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-cut-test")
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=[PROMPT], stream=True))  # type: ignore[list-item]
    (doc,) = documents(tmp_path, recording_schema)
    assert "transport_error" not in doc["response"] and len(chunks) > 5


APP = """
import os

import anthropic
import httpx
import ollama
import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")


def chat():
    client = openai.OpenAI(base_url=BASE, api_key="sk-x")
    messages = [{"role": "user", "content": "COUNT 5"}]
    return client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)


@pytest.mark.vcr
def test_caught():
    got = []
    with pytest.raises((openai.APIConnectionError, httpx.TransportError)):  # (2.x: httpx's own)
        for chunk in chat():
            got.append(chunk.choices[0].delta.content)
    assert got == ["", "1"]


@pytest.mark.vcr
def test_uncaught():
    for chunk in chat():
        pass
"""


def test_a_test_that_expects_the_cut_is_saved_and_replays_one_that_fails_is_not(
    pytester: pytest.Pytester, provider_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_app=APP)
    provider_server.queue_stream_cut(2)
    provider_server.queue_stream_cut(2)
    monkeypatch.setenv("LLAMA_VCR_TEST_BASE_URL", provider_server.base_url)
    pytester.runpytest("-p", "no:cacheprovider", "--record-mode=once").assert_outcomes(passed=1, failed=1)
    cassettes = pytester.path / "cassettes" / "test_app"
    (saved,) = recording_files(cassettes / "test_caught")
    assert json.loads(saved.read_text())["response"]["transport_error"]["message"] == CUT_MESSAGE
    assert not recording_files(cassettes / "test_uncaught")
    monkeypatch.delenv("LLAMA_VCR_TEST_BASE_URL")
    replay = pytester.runpytest("-p", "no:cacheprovider", "--record-mode=none", "test_app.py::test_caught")
    replay.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("stored", "client", "raised"),
    [
        ("httpx2.RemoteProtocolError", "httpx", "httpx.RemoteProtocolError"),  # openai 3 -> openai 2
        ("httpx.ReadError", "httpx2", "httpx2.ReadError"),
        ("urllib3.exceptions.ProtocolError", "httpx", "httpx.RemoteProtocolError"),  # same kind
        ("httpx2.ReadTimeout", "httpx", "httpx.ReadTimeout"),
        ("httpx.ReadTimeout", "requests", "requests.exceptions.ConnectionError"),  # ReadTimeoutError
        ("httpx.ReadError", "requests", "requests.exceptions.ChunkedEncodingError"),
    ],
)
def test_a_recording_replays_as_the_replaying_clients_error_of_that_name_or_kind(
    tmp_path: Path, recording_schema: Any, stored: str, client: str, raised: str
) -> None:
    with cut_server(2) as server, cassette(tmp_path, "once"):
        openai_sync(server.url)
    (path,) = recording_files(tmp_path)
    document = json.loads(path.read_text())
    document["response"]["transport_error"]["type"] = stored
    recording_schema.validate(document)
    path.write_text(json.dumps(document))
    url = OFFLINE_URL + "/v1/chat/completions"
    with cassette(tmp_path, "none"), pytest.raises(Exception) as info:
        if client == "requests":
            requests.post(url, json=chat_body(), stream=True).content  # noqa: B018
        else:
            with importlib.import_module(client).stream("POST", url, json=chat_body()) as response:
                response.read()
    assert class_name(info.value) == raised
    assert str(info.value) == CUT_MESSAGE


def test_aiohttp_refuses_a_recording_that_ends_in_a_transport_error(tmp_path: Path) -> None:
    """aiohttp's replay cannot raise after the body: it fails loudly, never answers as if whole."""
    import aiohttp

    from llama_vcr import LlamaVcrError

    with cut_server(2) as server, cassette(tmp_path, "once"):
        openai_sync(server.url)

    async def read() -> bytes:
        async with (
            aiohttp.ClientSession() as session,
            session.post(OFFLINE_URL + "/v1/chat/completions", json=chat_body(), headers=AUTH) as response,
        ):
            return await response.read()

    with cassette(tmp_path, "none"), pytest.raises(LlamaVcrError, match="aiohttp's replay cannot reproduce"):
        asyncio.run(read())
