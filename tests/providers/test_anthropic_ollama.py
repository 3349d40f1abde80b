"""Anthropic Messages and Ollama's native API with their real SDKs: record, then replay offline.

Plus one end-to-end run through the pytest plugin (``@pytest.mark.vcr``) for both providers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import ollama
import pytest

from llama_vcr import recording_files, recording_name
from tests.fakes.server import FakeProviderServer
from tests.providers.support import (
    API_KEY,
    arecord_then_replay,
    assert_same_objects,
    cassette,
    decoded_body,
    documents,
    masked,
    record_then_replay,
    sse_events,
)

MODEL = "claude-test-model"
TOOLS: list[Any] = [
    {
        "name": "get_weather",
        "description": "The weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
ANTHROPIC_TYPES = "anthropic.types."


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def type_name(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


# --- Anthropic ---------------------------------------------------------------------------------------


def claude(root: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=root, api_key=API_KEY, max_retries=0)


def aclaude(root: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=root, api_key=API_KEY, max_retries=0)


def tool_result_turn(tool_use: Any) -> list[Any]:
    return [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [tool_use]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "18C"}],
        },
    ]


def tool_use_of(events: list[Any]) -> dict[str, Any]:
    """The tool_use block a streamed turn asked for (its id from content_block_start)."""
    start = next(e for e in events if e.type == "content_block_start")
    arguments = "".join(
        e.delta.partial_json
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    )
    block = start.content_block
    return {"type": "tool_use", "id": block.id, "name": block.name, "input": json.loads(arguments)}


def messages(root: str, stream: bool) -> list[Any]:
    """A plain message, then a tool_use turn whose id is sent back as a tool_result."""
    c = claude(root)
    hello = [{"role": "user", "content": "Hello Claude"}]
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    if not stream:
        first = c.messages.create(model=MODEL, max_tokens=64, messages=hello)
        call = c.messages.create(model=MODEL, max_tokens=64, messages=ask, tools=TOOLS)
        block = call.content[0].model_dump(exclude_none=True)
        answer = c.messages.create(model=MODEL, max_tokens=64, messages=tool_result_turn(block), tools=TOOLS)
        return [first, call, answer]
    first_events = list(c.messages.create(model=MODEL, max_tokens=64, messages=hello, stream=True))
    call_events = list(c.messages.create(model=MODEL, max_tokens=64, messages=ask, tools=TOOLS, stream=True))
    turn = tool_result_turn(tool_use_of(call_events))
    with c.messages.stream(model=MODEL, max_tokens=64, messages=turn, tools=TOOLS) as helper:
        answer = helper.get_final_message()
    return [first_events, call_events, answer]


async def amessages(root: str, stream: bool) -> list[Any]:
    hello = [{"role": "user", "content": "Hello Claude"}]
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    async with aclaude(root) as c:  # closed in this test's event loop
        if not stream:
            first = await c.messages.create(model=MODEL, max_tokens=64, messages=hello)
            call = await c.messages.create(model=MODEL, max_tokens=64, messages=ask, tools=TOOLS)
            turn = tool_result_turn(call.content[0].model_dump(exclude_none=True))
            answer = await c.messages.create(model=MODEL, max_tokens=64, messages=turn, tools=TOOLS)
            return [first, call, answer]
        created = await c.messages.create(model=MODEL, max_tokens=64, messages=hello, stream=True)
        first_events = [e async for e in created]
        created = await c.messages.create(model=MODEL, max_tokens=64, messages=ask, tools=TOOLS, stream=True)
        call_events = [e async for e in created]
        turn = tool_result_turn(tool_use_of(call_events))
        async with c.messages.stream(model=MODEL, max_tokens=64, messages=turn, tools=TOOLS) as helper:
            answer = await helper.get_final_message()
        return [first_events, call_events, answer]


def check_messages(run: Any, stream: bool) -> None:
    assert_same_objects(run)
    first, call, answer = run.replayed
    assert answer.content[0].text == "Tool said: 18C"
    if not stream:
        assert first.content[0].text == "Echo: Hello Claude"
        assert call.content[0].type == "tool_use" and call.content[0].id.startswith("rec-")
    ordered = sorted(
        run.docs, key=lambda d: (len(d["request"]["body"]["messages"]), "tools" in d["request"]["body"])
    )
    results = ordered[-1]["request"]["body"]["messages"][-1]["content"]
    assert results[0]["tool_use_id"].startswith("rec-")  # the live toolu_ id was mapped
    assert results[0]["tool_use_id"] in json.dumps(ordered[1]["response"]["body"])
    for document in ordered:
        response = document["response"]
        assert response["is_streaming"] is stream and response["status"] == 200
        assert response["headers"]["request-id"].startswith("req_rec-")
        if not stream:
            assert response["body"]["__type__"] == ANTHROPIC_TYPES + "message.Message"
            continue
        assert response["sse_done"] is False  # Anthropic streams end without [DONE]
        body = response["body"]
        names = [chunk["__event__"] for chunk in body]
        assert names[0] == "message_start" and names[-1] == "message_stop"
        assert {"content_block_start", "content_block_delta", "content_block_stop", "ping"} <= set(names)
        assert names == [chunk["__data__"]["type"] for chunk in body]
        for chunk in body:  # a ping has no SDK class: it is kept as an untyped named event
            assert chunk.get("__type__", "-").startswith(ANTHROPIC_TYPES) or chunk["__event__"] == "ping"
    if stream:
        for document, events in zip(ordered[:2], run.replayed[:2], strict=True):
            envelopes = [c for c in document["response"]["body"] if "__type__" in c]
            assert [c["__type__"] for c in envelopes] == [type_name(e) for e in events]
        names = [name for name, _ in sse_events(decoded_body(ordered[0]))]
        assert names == [chunk["__event__"] for chunk in ordered[0]["response"]["body"]]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_anthropic_messages_and_tool_use_round_trip(
    tmp_path: Path, recording_schema: Any, stream: bool
) -> None:
    check_messages(
        record_then_replay(tmp_path / "t", lambda root: messages(root, stream), recording_schema), stream
    )


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_async_anthropic_messages_and_tool_use_round_trip(
    tmp_path: Path, recording_schema: Any, stream: bool
) -> None:
    run = await arecord_then_replay(tmp_path / "t", lambda root: amessages(root, stream), recording_schema)
    check_messages(run, stream)


def test_anthropic_count_tokens(tmp_path: Path, recording_schema: Any) -> None:
    def scenario(root: str) -> Any:
        return claude(root).messages.count_tokens(
            model=MODEL, messages=[{"role": "user", "content": "one two"}]
        )

    run = record_then_replay(tmp_path / "t", scenario, recording_schema)
    assert_same_objects(run)
    assert (
        run.docs[0]["response"]["body"]["__type__"]
        == ANTHROPIC_TYPES + "message_tokens_count.MessageTokensCount"
    )


# --- Ollama ------------------------------------------------------------------------------------------

OLLAMA = "ollama._types."


def ollama_session(root: str) -> list[Any]:
    c = ollama.Client(host=root)
    chat = [{"role": "user", "content": "Hi llama"}]
    return [
        c.chat(model="llama3.2", messages=chat),
        list(c.chat(model="llama3.2", messages=chat, stream=True)),
        c.generate(model="llama3.2", prompt="Why is the sky blue?"),
        list(c.generate(model="llama3.2", prompt="Why is the sky blue?", stream=True)),
        c.embed(model="all-minilm", input=["a", "b"]),
        c.list(),
        c.ps(),
    ]


async def aollama_session(root: str) -> list[Any]:
    chat = [{"role": "user", "content": "Hi llama"}]
    prompt = "Why is the sky blue?"
    c = ollama.AsyncClient(host=root)
    try:
        return [
            await c.chat(model="llama3.2", messages=chat),
            [part async for part in await c.chat(model="llama3.2", messages=chat, stream=True)],
            await c.generate(model="llama3.2", prompt=prompt),
            [part async for part in await c.generate(model="llama3.2", prompt=prompt, stream=True)],
            await c.embed(model="all-minilm", input=["a", "b"]),
            await c.list(),
            await c.ps(),
        ]
    finally:
        await c.close()  # in this test's event loop (ollama 0.6 clients have no __aenter__)


def check_ollama(run: Any) -> None:
    assert_same_objects(run)
    chat, chat_stream, generate, generate_stream, embed, tags, ps = run.replayed
    assert chat.message.content == "Echo: Hi llama" and chat.total_duration == 0
    assert "".join(part.message.content for part in chat_stream) == "Echo: Hi llama"
    assert "".join(part.response for part in generate_stream) == generate.response
    assert len(embed.embeddings) == 2 and [m.model for m in tags.models] == [
        "llama3.2:latest",
        "all-minilm:latest",
    ]
    assert {m.model for m in ps.models} == {"llama3.2:latest", "all-minilm:latest"}
    expected = {
        ("/api/chat", False): "ChatResponse",
        ("/api/chat", True): "ChatResponse",
        ("/api/generate", False): "GenerateResponse",
        ("/api/generate", True): "GenerateResponse",
        ("/api/embed", False): "EmbedResponse",
        ("/api/tags", False): "ListResponse",
        ("/api/ps", False): "ProcessResponse",
    }
    seen = {}
    for document in run.docs:
        response, endpoint = document["response"], document["request"]["endpoint"]
        key = (endpoint, response["is_streaming"])
        body = response["body"] if response["is_streaming"] else [response["body"]]
        assert {chunk["__type__"] for chunk in body} == {OLLAMA + expected[key]}
        if response["is_streaming"]:
            assert response["headers"]["content-type"] == "application/x-ndjson"
            lines = decoded_body(document).decode().splitlines()
            assert [json.loads(line) for line in lines] == [chunk["__data__"] for chunk in body]
            assert body[-1]["__data__"]["done"] is True and len(body) > 2
        seen[key] = len(body)
    assert seen.keys() == expected.keys()
    assert seen[("/api/chat", True)] == len(chat_stream) and seen[("/api/generate", True)] == len(
        generate_stream
    )


def test_ollama_chat_generate_embed_list_ps(tmp_path: Path, recording_schema: Any) -> None:
    check_ollama(record_then_replay(tmp_path / "t", ollama_session, recording_schema))


@pytest.mark.anyio
async def test_async_ollama_chat_generate_embed_list_ps(tmp_path: Path, recording_schema: Any) -> None:
    check_ollama(await arecord_then_replay(tmp_path / "t", aollama_session, recording_schema))


def test_rerecording_against_fresh_ids_gives_byte_identical_files(
    tmp_path: Path, recording_schema: Any
) -> None:
    def scenario(root: str) -> None:
        messages(root, stream=True)
        messages(root, stream=False)
        ollama_session(root)

    directory = tmp_path / "t"
    with FakeProviderServer(vary_ids=True) as server, cassette(directory, "once"):
        scenario(server.url)
        port = server.port
    first = {p.name: p.read_bytes() for p in recording_files(directory)}
    assert len(first) == 13
    with FakeProviderServer(vary_ids=True, port=port) as server, cassette(directory, "all"):
        scenario(server.url)
        assert len(server.hits) == 13  # really re-recorded, against fresh ids and timings
    assert {p.name: p.read_bytes() for p in recording_files(directory)} == first
    documents(directory, recording_schema)


# --- through the pytest plugin -----------------------------------------------------------------------

APP = f'''
import json, os
from pathlib import Path

import anthropic, ollama, openai, pytest

ROOT = os.environ.get("LLAMA_VCR_TEST_ROOT", "http://127.0.0.1:9")
OUT = Path(os.environ["LLAMA_VCR_TEST_OUT"])


def dump(name, objects):
    OUT.mkdir(exist_ok=True)
    (OUT / f"{{name}}.json").write_text(json.dumps([o.model_dump(mode="json") for o in objects]))


@pytest.mark.vcr
def test_claude_tool_loop():
    c = anthropic.Anthropic(base_url=ROOT, api_key="{API_KEY}", max_retries=0)
    tools = [{{"name": "get_weather", "input_schema": {{"type": "object"}}}}]
    ask = [{{"role": "user", "content": "Weather?"}}]
    call = c.messages.create(model="claude-x", max_tokens=9, messages=ask, tools=tools)
    block = call.content[0]
    result = {{"type": "tool_result", "tool_use_id": block.id, "content": "9C"}}
    turn = ask + [{{"role": "assistant", "content": [block.model_dump(exclude_none=True)]}},
                  {{"role": "user", "content": [result]}}]
    events = list(c.messages.create(model="claude-x", max_tokens=9, messages=turn, tools=tools, stream=True))
    dump("claude", [call, *events])


@pytest.mark.vcr
def test_ollama_and_responses():
    o = ollama.Client(host=ROOT)
    parts = list(o.chat(model="llama3.2", messages=[{{"role": "user", "content": "hey"}}], stream=True))
    r = openai.OpenAI(base_url=ROOT + "/v1", api_key="{API_KEY}", max_retries=0)
    first = r.responses.create(model="gpt-4o-mini", input="one")
    events = list(r.responses.create(model="gpt-4o-mini", input="two", previous_response_id=first.id,
                                     stream=True))
    dump("mixed", [*parts, first, *events])
'''


def test_the_plugin_records_and_replays_anthropic_ollama_and_responses(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, recording_schema: Any
) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_app=APP)
    out = pytester.path / "out"
    monkeypatch.setenv("LLAMA_VCR_TEST_OUT", str(out))
    with FakeProviderServer() as server, monkeypatch.context() as mp:
        mp.setenv("LLAMA_VCR_TEST_ROOT", server.url)
        pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--record-mode=once"
        ).assert_outcomes(passed=2)
        assert len(server.hits) == 5
    live = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    files = sorted((pytester.path / "cassettes").rglob("*.json"))
    assert len(files) == 5
    for path in files:
        document = json.loads(path.read_text())
        recording_schema.validate(document)
        assert recording_name(document) == path.name and API_KEY not in path.read_text()
    before = {p: p.read_bytes() for p in files}
    out.rename(pytester.path / "live-out")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--record-mode=none", "-W", "error"
    )
    result.assert_outcomes(passed=2)
    replayed = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert replayed.keys() == live.keys() == {"claude", "mixed"}
    assert masked(replayed) == masked(live)
    assert {p: p.read_bytes() for p in sorted((pytester.path / "cassettes").rglob("*.json"))} == before
