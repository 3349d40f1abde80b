"""Payloads of OpenAI-compatible servers that leave required fields out (vLLM, Ollama's /v1,
llama-stack): the openai SDK builds its objects from them all the same (openai/_models.py
``construct_type``), so their recordings are typed as those classes, and replay gives the objects
the live calls returned.

The local server's ``/compat/v1`` routes (tests/fakes/compat_routes.py) send such payloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pydantic
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseCompletedEvent, ResponseTextDeltaEvent

from llama_vcr import revive
from tests.fakes.compat_routes import CHAT_OMITTED, RESPONSE_OMITTED
from tests.providers.support import API_KEY, Run, assert_same_objects, record_then_replay


def compat_client(root: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=root + "/compat/v1", api_key=API_KEY, max_retries=0)


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def assert_revives_as_replayed(stored: Any, replayed: Any) -> None:
    """``revive`` of the stored value rebuilds the object the SDK built in replay: same class,
    equal fields, the same fields set (what the payload had)."""
    revived = revive(stored)
    pairs = list(zip(revived, replayed, strict=True)) if isinstance(replayed, list) else [(revived, replayed)]
    for mine, sdk in pairs:
        assert type(mine) is type(sdk)
        assert mine == sdk
        assert mine.model_fields_set == sdk.model_fields_set
        assert mine.model_dump(warnings=False) == sdk.model_dump(warnings=False)


def recorded(tmp_path: Path, scenario: Any, schema: Any) -> tuple[Run, Any]:
    run = record_then_replay(tmp_path / "cassette", scenario, schema)
    assert len(run.docs) == 1
    assert_same_objects(run)
    return run, run.docs[0]["response"]["body"]


def test_a_responses_object_without_tools_is_typed_and_revives_as_the_live_one(
    tmp_path: Path, recording_schema: Any
) -> None:
    def scenario(root: str) -> Response:
        return compat_client(root).responses.create(model="gpt-4o-mini", input="Hello")

    run, body = recorded(tmp_path, scenario, recording_schema)
    assert not body["__data__"].keys() & set(RESPONSE_OMITTED)
    with pytest.raises(pydantic.ValidationError):
        Response.model_validate(body["__data__"])
    assert body["__type__"] == type_name(Response)
    assert type(run.live) is Response and run.replayed.output_text == "Echo: Hello"
    assert_revives_as_replayed(body, run.replayed)


def test_a_responses_stream_types_every_event_including_response_completed(
    tmp_path: Path, recording_schema: Any
) -> None:
    def scenario(root: str) -> list[Any]:
        return list(compat_client(root).responses.create(model="gpt-4o-mini", input="Hello", stream=True))

    run, chunks = recorded(tmp_path, scenario, recording_schema)
    assert [chunk.get("__type__") for chunk in chunks] == [type_name(type(event)) for event in run.live]
    completed = chunks[-1]
    assert completed["__type__"] == type_name(ResponseCompletedEvent)
    assert not completed["__data__"]["response"].keys() & set(RESPONSE_OMITTED)
    with pytest.raises(pydantic.ValidationError):
        ResponseCompletedEvent.model_validate(completed["__data__"])
    assert any(chunk["__type__"] == type_name(ResponseTextDeltaEvent) for chunk in chunks)
    assert_revives_as_replayed(chunks, run.replayed)


def test_a_chat_completion_without_object_or_usage_is_typed(tmp_path: Path, recording_schema: Any) -> None:
    def scenario(root: str) -> ChatCompletion:
        messages: Any = [{"role": "user", "content": "Hello"}]
        return compat_client(root).chat.completions.create(model="gpt-4o-mini", messages=messages)

    run, body = recorded(tmp_path, scenario, recording_schema)
    assert not body["__data__"].keys() & set(CHAT_OMITTED)
    with pytest.raises(pydantic.ValidationError):
        ChatCompletion.model_validate(body["__data__"])
    assert body["__type__"] == type_name(ChatCompletion)
    assert run.replayed.choices[0].message.content == "Echo: Hello"
    assert_revives_as_replayed(body, run.replayed)


def test_a_chat_stream_without_object_is_typed_chunk_by_chunk(tmp_path: Path, recording_schema: Any) -> None:
    def scenario(root: str) -> list[ChatCompletionChunk]:
        messages: Any = [{"role": "user", "content": "Hello"}]
        stream = compat_client(root).chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True
        )
        return list(stream)

    run, chunks = recorded(tmp_path, scenario, recording_schema)
    assert chunks and all(chunk["__type__"] == type_name(ChatCompletionChunk) for chunk in chunks)
    assert all("object" not in chunk["__data__"] for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in run.replayed if c.choices) == "Echo: Hello"
    assert_revives_as_replayed(chunks, run.replayed)
