"""The copy of a live request that hooks get and recording stores is its own (issue 13 review).

Filtering each live request once (``_vcrpy.cassette._once_per_request``) copies it cheaply; aiohttp
hands vcrpy the caller's own ``json=`` object as the body, so that copy must not share it: a
user's ``before_record_request`` must not change what the caller sends, and a payload the test
changes after sending it (the next turn of a conversation) must not change what was recorded.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import vcr

import llama_vcr
from llama_vcr._vcrpy import configure_vcr


class _Server(ThreadingHTTPServer):
    received: list[Any]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self.server.received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        n = len(self.server.received)
        out = json.dumps({"id": f"chatcmpl-{n}abcdefgh", "object": "chat.completion", "answer": n}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.received = []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url_of(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/v1/chat/completions"


def machine(mode: str, *hooks: Any, **options: Any) -> vcr.VCR:
    recorder = vcr.VCR(record_mode=mode, **options)
    configure_vcr(recorder, llama_vcr.CODEC, "t.py::t")
    if hooks:
        recorder.before_record_request = [recorder.before_record_request, *hooks]
    return recorder


async def post(url: str, *payloads: dict[str, Any], turn: Any = None) -> list[Any]:
    """POST each payload through one aiohttp session (``turn(payload)`` between them)."""
    answers = []
    # (no kept-alive connection, and one loop turn after closing: asyncio.run would otherwise close
    # the loop before the socket, which a later test then sees as an unraisable ResourceWarning)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        for payload in payloads:
            async with session.post(url, json=payload) as response:
                answers.append(await response.json())
            if turn is not None:
                turn(payload)
    await asyncio.sleep(0)
    return answers


def drop_user(request: Any) -> Any:
    """A user's hook that edits its copy in place."""
    if isinstance(request.body, dict):
        request.body.pop("user", None)
    return request


def test_a_hook_editing_its_copy_changes_neither_the_payload_nor_what_is_sent(
    tmp_path: Path, server: _Server
) -> None:
    (tmp_path / "t").mkdir()
    payload = {"model": "m", "user": "alice"}
    with machine("once", drop_user).use_cassette(str(tmp_path / "t")):
        asyncio.run(post(url_of(server), payload))
    assert payload == {"model": "m", "user": "alice"}
    server.received.clear()
    with machine("new_episodes", drop_user).use_cassette(str(tmp_path / "t")):
        asyncio.run(post(url_of(server), {"model": "second", "user": "bob"}))
    assert server.received == [{"model": "second", "user": "bob"}]


def test_the_next_turn_of_a_conversation_is_sent_and_recorded_as_sent(
    tmp_path: Path, server: _Server
) -> None:
    (tmp_path / "t").mkdir()
    payload: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

    def next_turn(sent: dict[str, Any]) -> None:
        sent["messages"].append({"role": "assistant", "content": "a1"})

    keep = lambda request, response: (request, response)  # noqa: E731 - a save hook forces a re-encode
    with machine("once", before_save_interaction=keep).use_cassette(str(tmp_path / "t")):
        answers = asyncio.run(post(url_of(server), payload, payload, turn=next_turn))
    assert [answer["answer"] for answer in answers] == [1, 2]  # (the 2nd turn was not replayed)
    assert len(server.received) == 2
    bodies = sorted(
        (json.loads(path.read_text())["request"]["body"] for path in (tmp_path / "t").glob("*.json")),
        key=lambda body: len(body["messages"]),
    )
    assert [len(body["messages"]) for body in bodies] == [1, 2]  # each as it was sent
