"""Diagnostics and hygiene in pytest: near-miss diffs, unused and expired recordings, no save on
failure, and re-records that drop what the test no longer requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llama_vcr import recording_files
from tests.fakes.server import FakeProviderServer

APP = """
import os
import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")
PROMPTS = os.environ.get("PROMPTS", "hello").split(",")


@pytest.mark.vcr
def test_chat():
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    for prompt in PROMPTS:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    assert os.environ.get("FAIL") != "1", "the test failed after its requests"
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_app=APP)
    return pytester


def run(project: pytest.Pytester, mode: str, *args: str, base: str = "", **env: str) -> pytest.RunResult:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"LLAMA_VCR_TEST_BASE_URL": base, **env}.items():
            if value:
                mp.setenv(name, value)
        return project.runpytest("-p", "no:cacheprovider", f"--record-mode={mode}", *args)


def files(project: pytest.Pytester) -> list[Path]:
    return recording_files(project.path / "cassettes" / "test_app" / "test_chat")


def test_a_miss_shows_the_closest_recording_and_a_diff(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    run(project, "once", base=provider_server.base_url, PROMPTS="hello,bye").assert_outcomes(passed=1)
    result = run(project, "none", PROMPTS="hello,byebye")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    bye = next(p for p in files(project) if "bye" in p.read_text())
    assert f"closest recording: {bye.name} (POST /v1/chat/completions  model=gpt-4o-mini)" in out
    assert '$.messages[0].content: recorded "bye", sent "byebye"' in out
    assert "pytest test_app.py::test_chat --record-mode=new_episodes" in out


def test_unused_recordings_warn_by_default_and_can_fail(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    run(project, "once", base=provider_server.base_url, PROMPTS="a,b").assert_outcomes(passed=1)
    result = run(project, "none", PROMPTS="a")
    result.assert_outcomes(passed=1, warnings=1)
    assert (
        "UnusedRecordingsWarning: test_app.py::test_chat did not replay 1 of its recordings"
        in result.stdout.str()
    )
    result = run(project, "none", "-o", "llama_vcr_unused=fail", PROMPTS="a")
    result.assert_outcomes(failed=1)
    assert "--record-mode=rewrite to remove them" in result.stdout.str()
    run(project, "none", PROMPTS="a,b").assert_outcomes(passed=1)  # all replayed: no warning


def test_warnings_as_errors_fail_the_test_not_the_session(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    """``filterwarnings = error`` (common in real projects) turns the unused-recordings warning into
    a failure of that test; the session goes on and ends normally (no INTERNALERROR)."""
    run(project, "once", base=provider_server.base_url, PROMPTS="a,b").assert_outcomes(passed=1)
    project.makepyfile(test_other="def test_after():\n    assert True\n")
    result = run(project, "none", "-W", "error", PROMPTS="a")
    result.assert_outcomes(failed=1, passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    assert "did not replay 1 of its recordings" in out
    assert "warning filters" in out


def test_rewrite_and_all_remove_recordings_not_requested_again(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    for mode in ("rewrite", "all"):
        run(project, "rewrite", base=provider_server.base_url, PROMPTS="a,b,c").assert_outcomes(passed=1)
        assert len(files(project)) == 3
        run(project, mode, base=provider_server.base_url, PROMPTS="a").assert_outcomes(passed=1)
        [only] = files(project)
        assert '"content": "a"' in only.read_text()


def test_a_test_that_fails_while_recording_keeps_its_previous_recordings(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    run(project, "once", base=provider_server.base_url, FAIL="1").assert_outcomes(failed=1)
    assert files(project) == []  # nothing half-recorded
    run(project, "once", base=provider_server.base_url).assert_outcomes(passed=1)
    before = {p: p.read_bytes() for p in files(project)}
    run(project, "rewrite", base=provider_server.base_url, PROMPTS="other", FAIL="1").assert_outcomes(
        failed=1
    )
    assert {p: p.read_bytes() for p in files(project)} == before
    run(
        project,
        "rewrite",
        "-o",
        "llama_vcr_save_on_failure=true",
        base=provider_server.base_url,
        PROMPTS="other",
        FAIL="1",
    ).assert_outcomes(failed=1)
    assert "other" in files(project)[0].read_text()


def test_recordings_carry_their_date_and_sdk_and_expire(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    run(project, "once", base=provider_server.base_url).assert_outcomes(passed=1)
    [path] = files(project)
    document = json.loads(path.read_text())
    assert document["sdk"].startswith("OpenAI/Python ") and len(document["recorded_at"]) == 10
    run(project, "none", "-o", "llama_vcr_max_age=30").assert_outcomes(passed=1)  # fresh
    path.write_text(path.read_text().replace(document["recorded_at"], "2020-01-01"))
    result = run(project, "none", "-o", "llama_vcr_max_age=30")
    result.assert_outcomes(passed=1, warnings=1)
    assert "ExpiredRecordingsWarning" in result.stdout.str() and "older than 30 days" in result.stdout.str()
    run(project, "none", "-o", "llama_vcr_max_age=30", "-o", "llama_vcr_expired=fail").assert_outcomes(
        failed=1
    )
