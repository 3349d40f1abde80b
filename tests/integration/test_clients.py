"""Every HTTP client vcrpy patches records and replays, plain and streamed (issue 10, class 1).

Each client (httpx, httpx2, requests, urllib3, aiohttp) sends a chat completion to the local fake
server over a real socket while recording, then the same request is replayed with no server; the
replayed body must be what was received live (byte for byte once the fields recordings normalise
on purpose are masked) and exactly the bytes the codec serves for the recording. Each client sends
its body in every form it accepts (its ``json=`` keyword, bytes, text, an iterator of chunks): all
are one canonical request, so a recording made with one form or one client replays for any other.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import httpx2
import pytest
import requests
import urllib3

from tests.fakes.server import FakeProviderServer
from tests.providers.support import (
    API_KEY,
    OFFLINE_URL,
    cassette,
    decoded_body,
    masked,
    sse_events,
)

CLIENTS = ("httpx", "httpx2", "requests", "urllib3", "aiohttp")
#: How a body is handed to a client: its ``json=`` keyword, bytes, text, an iterator of chunks.
KINDS = ("json", "bytes", "text", "chunks")
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


def payload(stream: bool) -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Which planet has rings?"}],
        "stream": stream,
    }


def _encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode("utf-8")


def _chunks(data: bytes) -> Iterator[bytes]:
    """``data`` in three pieces: a client sends it chunked (``Transfer-Encoding: chunked``)."""
    third = len(data) // 3 + 1
    yield from (data[i : i + third] for i in range(0, len(data), third))


def _args(kind: str, body: dict[str, Any], json_key: str, data_key: str) -> dict[str, Any]:
    """The keyword arguments that send ``body`` as ``kind`` (with a JSON content type)."""
    if kind == "json":
        return {json_key: body}
    headers = {**HEADERS, "Content-Type": "application/json"}
    data = _encoded(body)
    value: Any = {"bytes": data, "text": data.decode("utf-8"), "chunks": _chunks(data)}[kind]
    return {data_key: value, "headers": headers}


def _httpx_like(module: Any) -> Callable[[str, str, dict[str, Any], bool], bytes]:
    def send(url: str, kind: str, body: dict[str, Any], stream: bool) -> bytes:
        kwargs = {"headers": HEADERS, **_args(kind, body, "json", "content")}
        with module.Client() as client, client.stream("POST", url, **kwargs) as response:
            assert response.status_code == 200
            if stream:
                return b"".join(response.iter_bytes())
            return bytes(response.read())

    return send


def _requests(url: str, kind: str, body: dict[str, Any], stream: bool) -> bytes:
    kwargs = {"headers": HEADERS, **_args(kind, body, "json", "data")}
    with requests.Session() as session:
        response = session.post(url, stream=stream, **kwargs)
        assert response.status_code == 200
        return b"".join(response.iter_content(None)) if stream else response.content


def _urllib3(url: str, kind: str, body: dict[str, Any], stream: bool) -> bytes:
    kwargs = {"headers": HEADERS, **_args(kind, body, "json", "body")}
    with urllib3.PoolManager() as pool:
        response = pool.request("POST", url, preload_content=not stream, **kwargs)
        assert response.status == 200
        return b"".join(response.stream(64)) if stream else bytes(response.data)


async def _achunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _aiohttp(url: str, kind: str, body: dict[str, Any], stream: bool) -> bytes:
    async def main() -> bytes:
        kwargs = {"headers": HEADERS, **_args(kind, body, "json", "data")}
        if kind == "chunks":
            kwargs["data"] = _achunks(kwargs["data"])
        async with aiohttp.ClientSession() as session, session.post(url, **kwargs) as response:
            assert response.status == 200
            if stream:
                return b"".join([chunk async for chunk in response.content.iter_any()])
            return await response.read()

    return asyncio.run(main())


SEND: dict[str, Callable[[str, str, dict[str, Any], bool], bytes]] = {
    "httpx": _httpx_like(httpx),
    "httpx2": _httpx_like(httpx2),
    "requests": _requests,
    "urllib3": _urllib3,
    "aiohttp": _aiohttp,
}


def parsed(raw: bytes, stream: bool) -> Any:
    """A body as data, its normalised fields masked: SSE events for a stream, else JSON."""
    assert raw, "an empty body"
    return masked(sse_events(raw) if stream else json.loads(raw))


def record(directory: Path, client: str, kind: str, stream: bool, **server_options: bool) -> bytes:
    """Record one request live; checks the server got the JSON body and one recording was written."""
    with FakeProviderServer(**server_options) as server, cassette(directory, "once"):
        live = SEND[client](server.base_url + "/chat/completions", kind, payload(stream), stream)
    assert [hit.json() for hit in server.hits] == [payload(stream)]
    (path,) = directory.glob("*.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["request"]["body"] == payload(stream)
    assert document["response"]["is_streaming"] is stream
    return live


def replay(directory: Path, client: str, kind: str, stream: bool) -> bytes:
    """Replay the recording with no server (every recording played); the bytes must be the ones
    the codec serves for it."""
    with cassette(directory, "none") as cass:
        replayed = SEND[client](OFFLINE_URL + "/v1/chat/completions", kind, payload(stream), stream)
        assert cass.all_played, "the recording was not replayed"
    (path,) = directory.glob("*.json")
    assert replayed == decoded_body(json.loads(path.read_text(encoding="utf-8")))
    return replayed


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "sse"])
@pytest.mark.parametrize("client", CLIENTS)
def test_record_then_replay(tmp_path: Path, client: str, stream: bool) -> None:
    live = record(tmp_path, client, "json", stream)
    replayed = replay(tmp_path, client, "json", stream)
    assert parsed(replayed, stream) == parsed(live, stream)
    if stream:
        assert sse_events(replayed)[-1] == (None, "[DONE]")
        assert len(sse_events(replayed)) > 2


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "json"])
@pytest.mark.parametrize("client", CLIENTS)
def test_every_body_form_is_one_request(tmp_path: Path, client: str, kind: str) -> None:
    """Recorded with a body as ``kind``, replayed with it and with the ``json=`` form."""
    live = record(tmp_path, client, kind, stream=True)
    assert parsed(replay(tmp_path, client, kind, stream=True), True) == parsed(live, True)
    assert parsed(replay(tmp_path, client, "json", stream=True), True) == parsed(live, True)


@pytest.mark.parametrize(("recorder", "player"), list(zip(CLIENTS, CLIENTS[1:] + CLIENTS[:1], strict=True)))
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "sse"])
def test_a_recording_replays_for_any_client(tmp_path: Path, recorder: str, player: str, stream: bool) -> None:
    live = record(tmp_path, recorder, "json", stream)
    assert parsed(replay(tmp_path, player, "json", stream), stream) == parsed(live, stream)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "sse"])
@pytest.mark.parametrize("client", CLIENTS)
def test_compressed_responses_record_and_replay(
    tmp_path: Path, client: str, stream: bool, encoding: str
) -> None:
    """A compressed response (the client decodes it; urllib3 2 hands vcrpy the decoded body) records
    and replays as what the client read live."""
    live = record(tmp_path, client, "json", stream, **{encoding: True})
    assert parsed(replay(tmp_path, client, "json", stream), stream) == parsed(live, stream)
