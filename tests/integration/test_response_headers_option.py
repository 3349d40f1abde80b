"""The ini options ``llama_vcr_keep_response_headers`` / ``llama_vcr_drop_response_headers`` in an
inner pytest run (pytester) recording against the local server and replaying with none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.server import FakeProviderServer

APP = """
import os

import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")


@pytest.mark.vcr
def test_headers():
    client = openai.OpenAI(base_url=BASE, api_key="sk-inner-0123456789abcdef", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers.get("x-envoy-upstream-service-time")
    if "LLAMA_VCR_TEST_BASE_URL" not in os.environ:  # replaying: what the recording kept
        assert raw.headers.get("openai-version") is None
    assert raw.headers.get("x-ratelimit-remaining-requests")
"""


def _run(pytester: pytest.Pytester, ini: str, *args: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\n" + ini)
    pytester.makepyfile(test_app=APP)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def test_added_headers_are_stored_and_replayed_and_dropped_ones_are_not(
    pytester: pytest.Pytester, provider_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = (
        "llama_vcr_keep_response_headers = x-envoy-upstream-service-time\n"
        "llama_vcr_drop_response_headers =\n    openai-version\n"
    )
    monkeypatch.setenv("LLAMA_VCR_TEST_BASE_URL", provider_server.base_url)
    _run(pytester, ini, "--record-mode=once").assert_outcomes(passed=1)
    [path] = sorted(Path(pytester.path, "cassettes").rglob("*.json"))
    stored = json.loads(path.read_text())["response"]["headers"]
    assert "x-envoy-upstream-service-time" in stored and "openai-version" not in stored
    monkeypatch.delenv("LLAMA_VCR_TEST_BASE_URL")
    provider_server.close()
    _run(pytester, ini, "--record-mode=none").assert_outcomes(passed=1)


@pytest.mark.parametrize("name", ["set-cookie", "x-api-key"])
def test_adding_a_header_that_is_never_stored_is_a_usage_error(pytester: pytest.Pytester, name: str) -> None:
    result = _run(pytester, f"llama_vcr_keep_response_headers = x-fine {name}\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*llama_vcr_keep_response_headers: {name}: never stored, even when added*"])
