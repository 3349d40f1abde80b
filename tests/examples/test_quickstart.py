"""Examples a user would write: plain ``@pytest.mark.vcr`` tests with the OpenAI SDK.

They replay from the committed ``cassettes/tests/examples/test_quickstart/`` with no server and
no key (``pytest`` defaults to ``--record-mode=none``). ``tox -e record`` re-records them against
the local OpenAI-compatible server.
"""

from __future__ import annotations

import json

import openai
import pytest

from conftest import EXAMPLE_API_KEY

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def client(openai_base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=openai_base_url, api_key=EXAMPLE_API_KEY)


@pytest.fixture
def async_client(openai_base_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=openai_base_url, api_key=EXAMPLE_API_KEY)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.vcr
def test_chat_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Which planet has rings?"}],
        temperature=0.2,
    )
    assert reply.choices[0].message.content == "Echo: Which planet has rings?"
    assert reply.usage is not None and reply.usage.total_tokens > 0


@pytest.mark.vcr
def test_streaming_chat_completion(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Name a planet with rings"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(type(chunk).__name__ == "ChatCompletionChunk" for chunk in chunks)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "Echo: Name a planet with rings"
    assert chunks[-1].usage is not None


@pytest.mark.vcr
def test_tool_call_round_trip(client: openai.OpenAI) -> None:
    messages: list = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"},
    ]
    second = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "Tool said: 18C and sunny"


@pytest.mark.vcr
def test_embeddings_and_models(client: openai.OpenAI) -> None:
    embeddings = client.embeddings.create(model="text-embedding-3-small", input=["rings", "moons"])
    assert [len(item.embedding) for item in embeddings.data] == [8, 8]
    assert "gpt-4o-mini" in {model.id for model in client.models.list()}


@pytest.mark.vcr
@pytest.mark.anyio
async def test_async_streaming(async_client: openai.AsyncOpenAI) -> None:
    stream = await async_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "async hello"}], stream=True
    )
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == "Echo: async hello"
