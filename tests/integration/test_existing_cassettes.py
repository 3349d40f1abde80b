"""Installing llama-vcr is not switching: a test with an existing vcrpy cassette keeps replaying it.

The cassettes are written by plain vcrpy / pytest-recording (llama-vcr disabled with
``-p no:llama_vcr``), at pytest-recording's default place, as an existing suite has them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_vcr import recording_files
from tests.fakes.server import FakeProviderServer
from tests.providers.support import record_with_vcrpy

SUITE = """
import os
import openai
import pytest
import requests

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")
PROMPT = os.environ.get("PROMPT", "hello")


@pytest.mark.vcr
def test_chat():
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    first = client.chat.completions.create(model="m", messages=[{"role": "user", "content": PROMPT}])
    second = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "again"}])
    assert first.choices[0].message.content == f"Echo: {PROMPT}"
    assert second.choices[0].message.content == "Echo: again"


@pytest.mark.vcr
def test_not_an_llm():
    headers = {"Authorization": "Bearer sk-x"}
    path = os.environ.get("MODELS_PATH", "/models")
    assert requests.get(BASE + path, headers=headers, timeout=5).json()["data"]
"""


@pytest.fixture
def suite(
    pytester: pytest.Pytester, provider_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """The suite, recorded by vcrpy alone; its tests replay with the same URLs (vcrpy's default
    ``match_on`` compares host and port), and never reach the server again."""
    pytester.makeini("[pytest]\n")
    record_with_vcrpy(pytester, provider_server, monkeypatch, passed=2, test_suite=SUITE)
    return pytester


def run(suite: pytest.Pytester, *args: str, **env: str) -> pytest.RunResult:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        return suite.runpytest("-p", "no:cacheprovider", *args)


def yaml_cassettes(suite: pytest.Pytester) -> dict[Path, str]:
    return {p: p.read_text() for p in sorted((suite.path / "cassettes").rglob("*.yaml"))}


def test_existing_vcrpy_cassettes_keep_replaying_read_only(
    suite: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    before = yaml_cassettes(suite)
    assert [p.name for p in before] == ["test_chat.yaml", "test_not_an_llm.yaml"]
    for mode in ("none", "new_episodes"):
        run(suite, f"--record-mode={mode}").assert_outcomes(passed=2)
    assert yaml_cassettes(suite) == before  # never written
    assert not provider_server.hits  # all replayed
    assert not [p for p in (suite.path / "cassettes").rglob("*.json")]  # nothing of llama-vcr's


def test_converting_or_re_recording_switches_the_test(
    suite: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    import shlex
    import subprocess
    import sys

    result = run(suite, "--record-mode=new_episodes", MODELS_PATH="/models?limit=1")
    result.assert_outcomes(passed=1, failed=1)  # read-only: a new request is a miss...
    out = result.stdout.str()
    assert "no interaction of the vcrpy cassette" in out
    assert "--test-id test_suite.py::test_not_an_llm" in out and "--record-mode=rewrite" in out
    line = next(line for line in result.stdout.lines if "  llama-vcr convert " in line)
    argv = shlex.split(line[line.index("llama-vcr convert") :])
    done = subprocess.run(
        [sys.executable, "-m", "llama_vcr", *argv[1:]], cwd=suite.path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    converted = suite.path / argv[3] / "test_suite"  # ...which says how to convert the cassette
    assert len(recording_files(converted / "test_not_an_llm")) == 1
    run(suite, "--record-mode=none").assert_outcomes(passed=2)  # now from llama-vcr's files
    run(suite, "--record-mode=rewrite").assert_outcomes(passed=2)
    assert len(recording_files(converted / "test_chat")) == 2  # re-recorded in llama-vcr's format
    run(suite, "--record-mode=none").assert_outcomes(passed=2)
