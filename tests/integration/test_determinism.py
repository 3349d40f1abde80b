"""Determinism: re-records produce no diff, and multi-turn id round trips replay with no miss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llama_vcr import recording_files, recording_name
from tests.fakes.server import FakeProviderServer

AGENT = """
import json, os, uuid
import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
          "properties": {"city": {"type": "string"}}}}}]


def ask(client, messages, stream):
    kwargs = {"model": "gpt-4o-mini", "messages": messages, "tools": TOOLS}
    if not stream:
        return client.chat.completions.create(**kwargs).choices[0].message
    calls, text = {}, ""
    for chunk in client.chat.completions.create(**kwargs, stream=True):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            entry["name"] += (call.function.name or "") if call.function else ""
            entry["arguments"] += (call.function.arguments or "") if call.function else ""
    return text, [calls[i] for i in sorted(calls)]


def agent_loop(client, stream):
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        _, calls = ask(client, messages, True)
        call_id, name, arguments = calls[0]["id"], calls[0]["name"], calls[0]["arguments"]
    else:
        message = ask(client, messages, False)
        call = message.tool_calls[0]
        call_id, name, arguments = call.id, call.function.name, call.function.arguments
    messages.append({"role": "assistant", "tool_calls": [{"id": call_id, "type": "function",
                     "function": {"name": name, "arguments": arguments}}]})
    messages.append({"role": "tool", "tool_call_id": call_id, "content": "18C"})
    answer = ask(client, messages, stream)
    text = answer[0] if stream else answer.content
    assert text == "Tool said: 18C"
    return call_id


@pytest.mark.vcr
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_tool_round_trip(stream):
    agent_loop(openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0), stream)


@pytest.mark.vcr(ignore_body_paths=["user", "metadata.trace_id"])
def test_ignored_paths():
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    trace = {"trace_id": uuid.uuid4().hex, "k": "v"}
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                           user=uuid.uuid4().hex, metadata=trace, store=True)
    assert reply.choices[0].message.content == "Echo: hi"


@pytest.mark.vcr
def test_embeddings_and_models():
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    assert len(client.embeddings.create(model="text-embedding-3-small", input="x").data) == 1
    assert len(list(client.models.list())) == 3
"""

AGENT_ASYNC = """
import os
import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
          "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.vcr
@pytest.mark.anyio
async def test_async_tool_round_trip():
    client = openai.AsyncOpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = await client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "18C"}]
    second = await client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    assert second.choices[0].message.content == "Tool said: 18C"
"""


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "cassettes").rglob("*.json"))}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_agent=AGENT, test_agent_async=AGENT_ASYNC)
    return pytester


def run(project: pytest.Pytester, mode: str, base_url: str | None = None) -> pytest.RunResult:
    with pytest.MonkeyPatch.context() as mp:
        if base_url:
            mp.setenv("LLAMA_VCR_TEST_BASE_URL", base_url)
        return project.runpytest("-p", "no:cacheprovider", f"--record-mode={mode}")


def test_rerecording_against_fresh_ids_leaves_a_byte_identical_tree(project: pytest.Pytester) -> None:
    with FakeProviderServer(vary_ids=True) as server:
        port = server.port
        run(project, "once", server.base_url).assert_outcomes(passed=5)
    first = tree(project.path)
    assert len(first) == 9
    for mode in ("rewrite", "all"):
        with FakeProviderServer(vary_ids=True, port=port) as server:
            run(project, mode, server.base_url).assert_outcomes(passed=5)
            assert len(server.hits) == 9  # really re-recorded, against fresh ids
        assert tree(project.path) == first, f"--record-mode={mode} changed the recordings"


def test_ids_sent_back_replay_with_zero_misses_sync_async_stream(project: pytest.Pytester) -> None:
    with FakeProviderServer(vary_ids=True) as server:
        run(project, "once", server.base_url).assert_outcomes(passed=5)
    run(project, "none").assert_outcomes(passed=5)
    for directory in (project.path / "cassettes").rglob("test_*round_trip*"):
        first, second = [json.loads(p.read_text()) for p in recording_files(directory)][:2]
        documents = {d["request"]["body"]["messages"][-1]["role"]: d for d in (first, second)}
        answer = documents["tool"]
        call_id = answer["request"]["body"]["messages"][-1]["tool_call_id"]
        assert call_id.startswith("rec-")  # the live call_... id was mapped to the stable one
        assert call_id in json.dumps(documents["user"]["response"]["body"])
        for document, path in zip((first, second), recording_files(directory)[:2], strict=True):
            assert recording_name(document) == path.name


def test_ignored_body_paths_are_neither_matched_nor_stored(project: pytest.Pytester) -> None:
    with FakeProviderServer() as server:
        run(project, "once", server.base_url).assert_outcomes(passed=5)
    [path] = recording_files(project.path / "cassettes" / "test_agent" / "test_ignored_paths")
    body = json.loads(path.read_text())["request"]["body"]
    assert "user" not in body and body["metadata"] == {"k": "v"}
    assert recording_name(json.loads(path.read_text())) == path.name
    run(project, "none").assert_outcomes(passed=5)  # fresh user / trace ids still replay
