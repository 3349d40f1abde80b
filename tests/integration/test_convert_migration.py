"""Switching a vcrpy suite with ``llama-vcr convert``: what the suite relied on still holds.

The cassettes are written by plain vcrpy / pytest-recording (llama-vcr off: ``-p no:llama_vcr``)
from the local server, converted by the real command (``python -m llama_vcr convert``), then
replayed by llama-vcr:

- the recorded order: with a ``match_on`` that does not look at bodies (vcrpy's ``method`` +
  ``path``), a test's answers come back in the order vcrpy recorded them (issue 14, migrate-05);
- the recorded values: a suite asserting on (or snapshotting) recorded ids and timestamps keeps
  them with ``--no-normalize`` or ``llama_vcr_stable_fields`` (migrate-03).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llama_vcr import recording_files
from tests.fakes.server import FakeProviderServer
from tests.providers.support import record_with_vcrpy

ORDER = """
import os
import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")


@pytest.fixture
def vcr_config():
    return {"match_on": ("method", "path")}  # vcrpy's own matchers, as pydantic-ai's config


@pytest.mark.vcr
def test_tool_loop_order():
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    first = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hello"}])
    second = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "tool result"}])
    assert [first.choices[0].message.content, second.choices[0].message.content] == [
        "Echo: hello", "Echo: tool result"
    ]
"""

SNAPSHOT = """
import json
import os
from pathlib import Path

import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")
SNAPSHOT = Path(__file__).parent / "snapshot.json"


@pytest.mark.vcr
def test_reply_id():
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    reply = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    completion = reply.parse()
    seen = {"id": completion.id, "created": completion.created}
    seen["request_id"] = reply.headers.get("x-request-id")
    if not SNAPSHOT.exists():  # a snapshot taken while recording, as inline-snapshot does
        SNAPSHOT.write_text(json.dumps(seen))
    assert seen == json.loads(SNAPSHOT.read_text())
"""


def convert(
    pytester: pytest.Pytester, *args: str, command: str = "convert"
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "llama_vcr", command, *args],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def replay(pytester: pytest.Pytester) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "--record-mode=none")


def test_a_converted_cassette_replays_in_recorded_order_with_method_and_path_matching(
    pytester: pytest.Pytester, provider_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\n")
    record_with_vcrpy(pytester, provider_server, monkeypatch, test_order=ORDER)
    convert(pytester, "cassettes/test_order/test_tool_loop_order.yaml", "cassettes")
    (pytester.path / "cassettes" / "test_order" / "test_tool_loop_order.yaml").unlink()
    files = recording_files(pytester.path / "cassettes" / "test_order" / "test_tool_loop_order")
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in files]
    prompts = [doc["request"]["body"]["messages"][0]["content"] for doc in documents]
    assert prompts == ["tool result", "hello"]  # the 2nd interaction's file sorts first...
    assert [doc["position"] for doc in documents] == [2, 1]  # ...and says it is the 2nd

    replay(pytester).assert_outcomes(passed=1)
    assert not provider_server.hits

    listed = json.loads(convert(pytester, "--json", command="ls").stdout)
    assert [(e["position"], e["file"]) for e in listed] == [(1, files[1].name), (2, files[0].name)]
    shown = convert(pytester, "--json", "test_order.py::test_tool_loop_order", command="show").stdout
    assert [t["messages"][0]["content"] for t in json.loads(shown)] == ["hello", "tool result"]


def test_convert_keeps_recorded_ids_with_no_normalize_or_stable_fields(
    pytester: pytest.Pytester, provider_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\n")
    record_with_vcrpy(pytester, provider_server, monkeypatch, test_ids=SNAPSHOT)
    snapshot = json.loads((pytester.path / "snapshot.json").read_text())
    assert snapshot["id"].startswith("chatcmpl-") and snapshot["created"] > 0 and snapshot["request_id"]
    cassette = "cassettes/test_ids/test_reply_id.yaml"
    directory = pytester.path / "cassettes" / "test_ids" / "test_reply_id"

    convert(pytester, cassette, "cassettes")  # normalised, as the plugin records
    [path] = recording_files(directory)
    assert json.loads(path.read_text())["response"]["body"]["__data__"]["id"].startswith("rec-")
    result = replay(pytester)
    result.assert_outcomes(failed=1)
    assert snapshot["id"] in result.stdout.str()

    path.unlink()
    convert(pytester, cassette, "cassettes", "--no-normalize")
    replay(pytester).assert_outcomes(passed=1)  # id, created and the x-request-id header as recorded

    path.unlink()  # the project's own setting: ids and timestamps stay as received
    pytester.makeini("[pytest]\nllama_vcr_stable_fields =\n    id\n    created\n")
    snapshot.pop("request_id")  # (a header: not a field; the snapshot compares only the body now)
    (pytester.path / "snapshot.json").write_text(json.dumps(snapshot))
    pytester.makepyfile(
        test_ids=SNAPSHOT.replace('seen["request_id"] = reply.headers.get("x-request-id")', "")
    )
    convert(pytester, cassette, "cassettes")
    [path] = recording_files(directory)
    data = json.loads(path.read_text())["response"]["body"]["__data__"]
    assert (data["id"], data["created"]) == (snapshot["id"], snapshot["created"])
    assert data["system_fingerprint"] in (None, "fp_rec")  # the fields not named are still normalised
    replay(pytester).assert_outcomes(passed=1)
    assert not provider_server.hits
