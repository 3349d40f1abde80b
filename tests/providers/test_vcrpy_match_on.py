"""vcrpy's own ``match_on`` names work on llama-vcr recordings as they do on vcrpy cassettes.

Recorded through the real OpenAI SDK against the local server, replayed against another local
server (another random port, another API key) that must never be reached: recordings keep no
loopback port, store redacted URLs and bodies as parsed JSON, and map ids, so vcrpy's own
matchers would miss where vcrpy itself replays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from llama_vcr import RecordingNotFound
from tests.fakes.server import FakeProviderServer
from tests.providers.support import API_KEY, cassette, make_vcr

VCRPY_DEFAULT = ("method", "scheme", "host", "port", "path", "query")
MATCH_ONS = [
    ("method", "path"),
    ("method", "uri"),
    ("method", "url"),
    VCRPY_DEFAULT,
    ("method", "path", "query"),
    ("method", "path", "body"),
    ("method", "path", "raw_body"),
    ("method", "path", "headers"),
    (*VCRPY_DEFAULT, "body", "headers"),
]


def scenario(root: str, api_key: str) -> list[Any]:
    """A chat (JSON body), an upload (multipart body), its retrieval (its id in the path), a listing
    with a query, in one test."""
    client = openai.OpenAI(base_url=root + "/v1", api_key=api_key, max_retries=0)
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], temperature=0.5
    )
    uploaded = client.files.create(file=("a.txt", b"abc", "text/plain"), purpose="assistants")
    again = client.files.retrieve(uploaded.id)
    listed = client.files.list(purpose="assistants")
    return [reply.choices[0].message.content, again.filename, len(listed.data)]


def record(directory: Path, match_on: tuple[str, ...]) -> list[Any]:
    with FakeProviderServer() as server, make_vcr("once").use_cassette(str(directory), match_on=match_on):
        return scenario(server.url, API_KEY)


@pytest.mark.parametrize("match_on", MATCH_ONS, ids=["+".join(m) for m in MATCH_ONS])
def test_vcrpy_match_on_replays_llama_vcr_recordings(tmp_path: Path, match_on: tuple[str, ...]) -> None:
    live = record(tmp_path / "t", match_on)
    with FakeProviderServer() as other:  # another port: it must never be reached
        with make_vcr("none").use_cassette(str(tmp_path / "t"), match_on=match_on) as cass:
            replayed = scenario(other.url, "sk-another-key-0123456789abcdef")
        assert not other.hits
    assert replayed == live == ["Echo: hi", "a.txt", 1]
    assert cass.all_played


@pytest.mark.parametrize(
    ("match_on", "changed"),
    [
        (("method", "host", "path"), "host"),
        (("method", "path", "body"), "body"),
        (("method", "path", "raw_body"), "body"),
        (("method", "uri"), "host"),
    ],
)
def test_vcrpy_match_on_still_tells_requests_apart(
    tmp_path: Path, match_on: tuple[str, ...], changed: str
) -> None:
    recorder = make_vcr("once")
    with FakeProviderServer() as server, recorder.use_cassette(str(tmp_path / "t"), match_on=match_on):
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    root = "http://localhost:9" if changed == "host" else "http://127.0.0.1:9"
    content = "hi" if changed == "host" else "bye"
    with make_vcr("none").use_cassette(str(tmp_path / "t"), match_on=match_on):
        client = openai.OpenAI(base_url=root + "/v1", api_key=API_KEY, max_retries=0)
        with pytest.raises(RecordingNotFound) as miss:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": content}])
    failing = {"host": match_on[1], "body": match_on[-1]}[changed]  # the message names the matcher
    assert f"  match_on ({', '.join(match_on)}): the closest recording fails {failing}: " in str(miss.value)
    assert "already replayed" not in str(miss.value)  # (the default matchers' reason, not this one's)


def test_raw_body_compares_key_order_but_body_does_not(tmp_path: Path) -> None:
    import httpx

    def send(root: str, body: bytes) -> Any:
        with httpx.Client(base_url=root) as client:
            headers = {"content-type": "application/json", "authorization": f"Bearer {API_KEY}"}
            return client.post("/v1/chat/completions", content=body, headers=headers).json()

    recorded = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
    reordered = b'{"messages": [{"role": "user", "content": "hi"}], "model": "m"}'
    with FakeProviderServer() as server, cassette(tmp_path / "t", "once"):
        send(server.url, recorded)
    with make_vcr("none").use_cassette(str(tmp_path / "t"), match_on=("method", "path", "body")):
        assert send("http://127.0.0.1:9", reordered)["object"] == "chat.completion"
    raw = make_vcr("none").use_cassette(str(tmp_path / "t"), match_on=("method", "path", "raw_body"))
    with raw, pytest.raises(RecordingNotFound):
        send("http://127.0.0.1:9", reordered)
