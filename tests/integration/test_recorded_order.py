"""Recorded order is kept: a test's recordings replay in the order they were recorded, whatever
their (hash) file names, so a ``match_on`` that does not tell requests apart by body (vcrpy's
``method`` + ``path``) replays a multi-turn test as vcrpy replays a cassette.
"""

from __future__ import annotations

import json

import pytest

from llama_vcr import recording_files
from tests.fakes.server import FakeProviderServer

SUITE = """
import os
import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")
PROMPTS = os.environ.get("PROMPTS", "one two three four").split()


@pytest.fixture
def vcr_config(vcr_config):
    return {**vcr_config, "match_on": ("method", "path")}  # vcrpy's own matchers: no body


@pytest.mark.vcr
def test_loop():
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    replies = [
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": p}])
        for p in PROMPTS
    ]
    assert [r.choices[0].message.content for r in replies] == [f"Echo: {p}" for p in PROMPTS]
"""


@pytest.fixture
def suite(
    pytester: pytest.Pytester, provider_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("LLAMA_VCR_TEST_BASE_URL", provider_server.base_url)
    return pytester


def run(suite: pytest.Pytester, mode: str) -> pytest.RunResult:
    return suite.runpytest("-p", "no:cacheprovider", f"--record-mode={mode}")


def recordings(suite: pytest.Pytester) -> list[dict[str, object]]:
    """The test's documents in file-name order."""
    directory = suite.path / "cassettes" / "test_suite" / "test_loop"
    return [json.loads(path.read_text(encoding="utf-8")) for path in recording_files(directory)]


def prompts(documents: list[dict[str, object]]) -> list[str]:
    return [doc["request"]["body"]["messages"][0]["content"] for doc in documents]  # type: ignore[index]


def test_recordings_replay_in_recorded_order_without_body_matching(
    suite: pytest.Pytester, provider_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(suite, "once").assert_outcomes(passed=1)
    documents = recordings(suite)
    assert prompts(documents) != ["one", "two", "three", "four"]  # file names do not sort in order
    by_position = sorted(documents, key=lambda doc: doc["position"])  # type: ignore[arg-type,return-value]
    assert prompts(by_position) == ["one", "two", "three", "four"]
    assert sorted(doc["position"] for doc in documents) == [1, 2, 3, 4]  # type: ignore[type-var]

    provider_server.reset()
    run(suite, "none").assert_outcomes(passed=1)  # replayed in recorded order
    assert not provider_server.hits

    # new_episodes: a request the test adds is numbered after the recordings it already has
    monkeypatch.setenv("PROMPTS", "one two three four five")
    run(suite, "new_episodes").assert_outcomes(passed=1)
    documents = recordings(suite)
    assert {prompts([doc])[0]: doc["position"] for doc in documents} == {
        "one": 1,
        "two": 2,
        "three": 3,
        "four": 4,
        "five": 5,
    }
    run(suite, "none").assert_outcomes(passed=1)

    # a re-record numbers from 1 again: the same files, byte for byte
    monkeypatch.setenv("PROMPTS", "one two three four")
    run(suite, "rewrite").assert_outcomes(passed=1)
    before = {p: p.read_bytes() for p in (suite.path / "cassettes").rglob("*.json")}
    assert [doc["position"] for doc in sorted(recordings(suite), key=lambda d: prompts([d]))] == [
        4,
        1,
        3,
        2,
    ]  # (four, one, three, two)
    run(suite, "rewrite").assert_outcomes(passed=1)
    assert {p: p.read_bytes() for p in (suite.path / "cassettes").rglob("*.json")} == before
    run(suite, "none").assert_outcomes(passed=1)


def test_files_without_a_position_replay_after_the_others_in_name_order(
    suite: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    """Files llama-stack (or an older llama-vcr) wrote have no position: name order, as before."""
    run(suite, "once").assert_outcomes(passed=1)
    directory = suite.path / "cassettes" / "test_suite" / "test_loop"
    files = recording_files(directory)
    for path in files:
        document = json.loads(path.read_text(encoding="utf-8"))
        del document["position"]
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    result = run(suite, "none")
    result.assert_outcomes(failed=1)  # name order: not the recorded one
    names = [json.loads(p.read_text())["request"]["body"]["messages"][0]["content"] for p in files]
    assert names[0] != "one"
    assert f"At index 0 diff: 'Echo: {names[0]}' != 'Echo: one'" in result.stdout.str()


def test_new_episodes_beside_files_without_a_position_replay_after_them(
    suite: pytest.Pytester, provider_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files written before llama-vcr kept the order come first: a request new_episodes adds beside
    them (numbered from 1) replays after them, as it was sent."""
    monkeypatch.setenv("PROMPTS", "one")
    run(suite, "once").assert_outcomes(passed=1)
    directory = suite.path / "cassettes" / "test_suite" / "test_loop"
    for path in recording_files(directory):
        document = json.loads(path.read_text(encoding="utf-8"))
        del document["position"]
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    monkeypatch.setenv("PROMPTS", "one two")
    run(suite, "new_episodes").assert_outcomes(passed=1)
    assert sorted(prompts(recordings(suite))) == ["one", "two"]
    run(suite, "none").assert_outcomes(passed=1)
