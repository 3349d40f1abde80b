"""Reliability and security: secrets never reach disk, corrupt files, no network, parallel runs."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vcr.request import Request

from llama_vcr import RecordingCodec, RecordingPersister, Redactor, recording_name
from llama_vcr._canonical import Canonicalizer
from llama_vcr._errors import SecretRedactedWarning
from tests.fakes.server import FakeProviderServer

SECRET_ENV = "MY_SERVICE_TOKEN"
secrets = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=20, max_size=40
)
places = st.sets(
    st.sampled_from(
        [
            "authorization",
            "x-api-key",
            "custom-header",
            "query-key",
            "query-innocent",
            "body",
            "nested-body",
            "response",
            "url-path",
        ]
    ),
    min_size=1,
)


def request_with(secret: str, where: set[str]) -> tuple[Request, dict]:
    headers = {"Content-Type": "application/json", "User-Agent": "OpenAI/Python 3.57.0"}
    if "authorization" in where:
        headers["Authorization"] = f"Bearer {secret}"
    if "x-api-key" in where:
        headers["x-api-key"] = secret
    if "custom-header" in where:
        headers["x-routing"] = secret
    query = []
    if "query-key" in where:
        query.append(f"api_key={quote(secret)}")
    if "query-innocent" in where:
        query.append(f"q={quote(secret)}")
    path = f"/v1/{secret}/chat/completions" if "url-path" in where else "/v1/chat/completions"
    body: dict = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    if "body" in where:
        body["user"] = secret
    if "nested-body" in where:
        body["metadata"] = {"note": f"key={secret};"}
    url = f"https://api.example.com{path}" + ("?" + "&".join(query) if query else "")
    reply = {"id": "x", "object": "chat.completion", "echo": secret if "response" in where else "no"}
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["application/json"], "set-cookie": [f"s={secret}"]},
        "body": {"string": json.dumps(reply).encode()},
    }
    return Request("POST", url, json.dumps(body).encode(), headers), response


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=secrets, where=places)
def test_secret_values_never_reach_disk(secret: str, where: set[str]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SECRET_ENV, secret)
        codec = RecordingCodec(Canonicalizer(Redactor.from_names(secret_env=[SECRET_ENV])))
    request, response = request_with(secret, where)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        persister = RecordingPersister(codec, test_id="t.py::secrets")
        persister.save_cassette(f"{tmp}/t", {"requests": [request], "responses": [response]}, codec)
        [path] = Path(tmp, "t").glob("*.json")
        text = path.read_text()
        assert secret not in text and quote(secret) not in text
        assert recording_name(json.loads(text)) == path.name
        leaked_places = where & {
            "custom-header",
            "query-innocent",
            "body",
            "nested-body",
            "response",
            "url-path",
        }
        if leaked_places - {"custom-header"}:  # custom headers are dropped, never scanned
            assert any(isinstance(w.message, SecretRedactedWarning) for w in caught)


def test_replay_never_reaches_the_network(
    pytester: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        test_net=f'''
import openai, pytest
from llama_vcr import RecordingNotFound

@pytest.mark.vcr
def test_unrecorded():
    client = openai.OpenAI(base_url="{provider_server.base_url}", api_key="sk-x", max_retries=3)
    with pytest.raises(RecordingNotFound):
        client.models.list()
'''
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--record-mode=none").assert_outcomes(passed=1)
    assert provider_server.hits == []


PARALLEL = """
import os
import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")


@pytest.mark.vcr
@pytest.mark.parametrize("n", range(8))
def test_many(n):
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    for m in range(5):
        stream = m % 2 == 1
        reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"{n}-{m}"}],
                                               stream=stream)
        if stream:
            assert "".join(c.choices[0].delta.content or "" for c in reply if c.choices) == f"Echo: {n}-{m}"
        else:
            assert reply.choices[0].message.content == f"Echo: {n}-{m}"


@pytest.mark.vcr
@pytest.mark.default_cassette("shared")
@pytest.mark.parametrize("n", range(4))
def test_shared_directory(n):
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    client.embeddings.create(model="e", input=f"shared {n}")
"""


def test_parallel_workers_lose_nothing_and_leave_no_partial_files(
    pytester: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_par=PARALLEL)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLAMA_VCR_TEST_BASE_URL", provider_server.base_url)
        # new_episodes: the 4 tests sharing a directory each add their recording to it concurrently
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-n", "4", "--record-mode=new_episodes"
        )
        result.assert_outcomes(passed=12)
    # the workers' counts reach the controller's end-of-session line
    assert "llama-vcr: 0 replayed, 44 written, 0 removed, 0 unused, 0 expired" in result.stdout.lines
    everything = list((pytester.path / "cassettes").rglob("*"))
    files = [p for p in everything if p.is_file()]
    assert len(files) == 8 * 5 + 4 == len(provider_server.hits)
    assert not [p for p in files if p.name.startswith(".") or not p.name.endswith(".json")]
    assert len(list((pytester.path / "cassettes" / "test_par" / "shared").glob("*.json"))) == 4
    for path in files:
        assert recording_name(json.loads(path.read_text())) == path.name
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "4", "--record-mode=none").assert_outcomes(
        passed=12
    )
