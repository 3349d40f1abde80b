"""Exact matching and id mapping, end to end through the real OpenAI SDK and the local server.

- A changed decimal in a prompt is another request: a replay miss, never the old answer; the
  stored prompt is what was sent (the file name still follows llama-stack's hash recipe).
- An id the test received is mapped wherever it is sent back, also inside a longer string; an id
  it never received in this run (a pre-provisioned file) is never rewritten.
- A local server's random port is not part of the recordings: re-records are byte-identical.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from llama_vcr import RecordingName, RecordingNotFound, recording_files
from tests.fakes.server import FakeProviderServer
from tests.providers.support import API_KEY, OFFLINE_URL, cassette, documents, record_then_replay

UPLOAD = b"Bitcoin: a peer-to-peer electronic cash system.\n"


def client(root: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=root + "/v1", api_key=API_KEY, max_retries=0)


def convert(root: str, amount: str) -> str:
    prompt = f"Convert {amount} BTC to satoshis."
    reply = client(root).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
    )
    return str(reply.choices[0].message.content)


def prompts(directory: Path, schema: Any) -> list[str]:
    return [d["request"]["body"]["messages"][0]["content"] for d in documents(directory, schema)]


# --- A: a changed decimal is another request ----------------------------------------------------------


def test_a_changed_decimal_in_a_prompt_is_a_replay_miss(tmp_path: Path, recording_schema: Any) -> None:
    directory = tmp_path / "t"
    with FakeProviderServer() as server, cassette(directory, "once"):
        assert convert(server.url, "0.000001") == "Echo: Convert 0.000001 BTC to satoshis."
    assert prompts(directory, recording_schema) == ["Convert 0.000001 BTC to satoshis."]
    with cassette(directory, "none"):
        assert convert(OFFLINE_URL, "0.000001") == "Echo: Convert 0.000001 BTC to satoshis."
        with pytest.raises(RecordingNotFound) as miss:
            convert(OFFLINE_URL, "0.000004")
    assert "0.000004" in str(miss.value) and "0.000001" in str(miss.value)


def test_two_prompts_that_share_a_file_name_replay_their_own_answers(
    tmp_path: Path, recording_schema: Any
) -> None:
    amounts = ["0.000001", "0.000004"]
    run = record_then_replay(
        tmp_path / "t", lambda root: [convert(root, a) for a in amounts], recording_schema
    )
    assert run.replayed == run.live == [f"Echo: Convert {a} BTC to satoshis." for a in amounts]
    names = [RecordingName.parse(p.name) for p in recording_files(run.directory)]
    assert [n.occurrence for n in names if n] == [1, 2] and len({n.digest for n in names if n}) == 1
    assert prompts(run.directory, recording_schema) == [f"Convert {a} BTC to satoshis." for a in amounts]
    with cassette(run.directory, "none"):  # exact matching, not the order, picks the file
        assert [convert(OFFLINE_URL, a) for a in reversed(amounts)] == list(reversed(run.live))


# --- B: ids sent back, and ids the test never received ---------------------------------------------------


def summarise(root: str) -> list[Any]:
    c = client(root)
    uploaded = c.files.create(file=("paper.txt", UPLOAD, "text/plain"), purpose="assistants")
    reply = c.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Summarise {uploaded.id}"}]
    )
    return [uploaded.id, reply.choices[0].message.content]


def test_an_uploaded_file_id_sent_back_inside_a_prompt_replays(tmp_path: Path, recording_schema: Any) -> None:
    run = record_then_replay(tmp_path / "t", summarise, recording_schema)
    stable, answer = run.replayed
    assert stable.startswith("rec-") and answer == f"Echo: Summarise {stable}"
    [chat] = [d for d in run.docs if d["request"]["endpoint"] == "/v1/chat/completions"]
    assert chat["request"]["body"]["messages"][0]["content"] == f"Summarise {stable}"


def test_a_pre_provisioned_file_keeps_its_id(tmp_path: Path, recording_schema: Any) -> None:
    directory = tmp_path / "t"

    def scenario(root: str, provisioned: str) -> list[str]:
        c = client(root)
        c.files.create(file=("mine.txt", UPLOAD, "text/plain"), purpose="assistants")
        return [f.id for f in c.files.list()]

    with FakeProviderServer() as server:
        provisioned = (
            client(server.url).files.create(file=("kb.txt", b"kb", "text/plain"), purpose="assistants").id
        )
        with cassette(directory, "once"):
            live = scenario(server.url, provisioned)
    assert provisioned in live
    with cassette(directory, "none"):
        replayed = scenario(OFFLINE_URL, provisioned)
    assert provisioned in replayed and len(replayed) == 2
    [mine] = [i for i in replayed if i != provisioned]
    assert mine.startswith("rec-")
    listing = [d for d in documents(directory, recording_schema) if d["request"]["method"] == "GET"]
    assert provisioned in json.dumps(listing)


# --- C: a local server's port is not recorded ---------------------------------------------------------


def test_recordings_against_random_ports_are_byte_identical(tmp_path: Path, recording_schema: Any) -> None:
    trees = []
    for name in ("first", "second"):
        directory = tmp_path / name
        with FakeProviderServer(vary_ids=True) as server, cassette(directory, "once"):
            summarise(server.url)
            convert(server.url, "0.000001")
        trees.append({p.name: p.read_bytes() for p in recording_files(directory)})
        for document in documents(directory, recording_schema):
            assert document["request"]["url"].startswith("http://127.0.0.1/v1/")
    assert trees[0] == trees[1] and len(trees[0]) == 3
    with cassette(tmp_path / "first", "none"):
        assert summarise(OFFLINE_URL)[1].startswith("Echo: Summarise rec-")
