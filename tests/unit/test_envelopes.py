"""The SDK type registry: envelopes and their revival into SDK classes."""

from __future__ import annotations

import importlib
from typing import Any

import pydantic
import pytest
from openai._models import construct_type
from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseCompletedEvent, ResponseStreamEvent

from llama_vcr import REGISTRY, TypeRegistry, TypeRule, revive
from llama_vcr.format.envelopes import UnknownTypeError, envelope, import_type, type_name_of
from llama_vcr.format.validate import check_replay
from llama_vcr.format.wire import RecordingFormatError

CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "gpt-4o",
    "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
}


@pytest.mark.parametrize(
    ("method", "endpoint", "streaming", "expected"),
    [
        ("POST", "/v1/chat/completions", False, ChatCompletion),
        ("POST", "/v1/chat/completions", True, ChatCompletionChunk),
        ("POST", "/openai/deployments/gpt/chat/completions", True, ChatCompletionChunk),
        ("POST", "/v1/embeddings", False, CreateEmbeddingResponse),
        ("GET", "/v1/models/gpt-4o", False, Model),
    ],
)
def test_registry_maps_endpoints_to_sdk_classes(
    method: str, endpoint: str, streaming: bool, expected: type
) -> None:
    rule = REGISTRY.rule_for(method, endpoint)
    assert rule is not None
    name = rule.chunk if streaming else rule.body
    assert name == type_name_of(expected)
    assert import_type(name) is expected


def test_model_lists_type_their_items() -> None:
    rule = REGISTRY.rule_for("GET", "/v1/models")
    assert rule is not None and rule.items == type_name_of(Model)


def test_unknown_endpoints_have_no_type() -> None:
    assert REGISTRY.rule_for("POST", "/v1/unknown-thing") is None


def test_envelope_revives_into_the_sdk_class() -> None:
    value = envelope(CHUNK, type_name_of(ChatCompletionChunk))
    assert value == {
        "__type__": "openai.types.chat.chat_completion_chunk.ChatCompletionChunk",
        "__data__": CHUNK,
    }
    chunk = revive(value)
    assert isinstance(chunk, ChatCompletionChunk) and chunk.choices[0].delta.content == "Hi"


def test_an_object_is_typed_as_the_sdk_builds_it_even_if_it_does_not_validate() -> None:
    # openai/_models.py construct_type: a model class is built from any JSON object, unvalidated
    value = envelope({"not": "a chunk"}, type_name_of(ChatCompletionChunk))
    assert value == {"__type__": type_name_of(ChatCompletionChunk), "__data__": {"not": "a chunk"}}


def test_unknown_type_falls_back_to_data_or_raises_when_strict() -> None:
    value = {"__type__": "nowhere.module.Thing", "__data__": {"a": 1}}
    assert revive(value) == {"a": 1}
    with pytest.raises(UnknownTypeError, match=r"nowhere\.module\.Thing"):
        revive(value, strict=True)


def test_a_provider_rule_registered_later_wins() -> None:
    registry = TypeRegistry(REGISTRY._rules)
    registry.register(TypeRule("POST", r"/chat/completions$", body="openai.types.completion.Completion"))
    rule = registry.rule_for("POST", "/v1/chat/completions")
    assert rule is not None and rule.body == "openai.types.completion.Completion"


# --- typed as the SDK builds it (openai/_models.py construct_type; docs/recording-format.md) -------

#: A Responses API object as OpenAI-compatible servers send it (no parallel_tool_calls, tool_choice,
#: tools, temperature, top_p...): strict validation refuses it, the SDK builds a Response anyway.
LENIENT_RESPONSE: dict[str, Any] = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "model": "m",
    "status": "completed",
    "output": [
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Hi", "annotations": []}],
        }
    ],
}
#: A chat completion with no object, system_fingerprint or usage.
LENIENT_CHAT: dict[str, Any] = {
    "id": "chatcmpl-1",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi"}}],
}
LENIENT_CHUNK: dict[str, Any] = {key: value for key, value in CHUNK.items() if key != "object"}


def _rule(method: str, endpoint: str) -> TypeRule:
    rule = REGISTRY.rule_for(method, endpoint)
    assert rule is not None
    return rule


RESPONSES = _rule("POST", "/v1/responses")
CHAT = _rule("POST", "/v1/chat/completions")
MESSAGES = _rule("POST", "/v1/messages")
OLLAMA_CHAT = _rule("POST", "/api/chat")


@pytest.mark.parametrize(
    ("type_name", "data", "stream", "expected"),
    [
        (RESPONSES.body, LENIENT_RESPONSE, False, Response),
        (
            RESPONSES.chunk,
            {"type": "response.completed", "sequence_number": 9, "response": LENIENT_RESPONSE},
            True,
            ResponseCompletedEvent,
        ),
        (CHAT.body, LENIENT_CHAT, False, ChatCompletion),
        (CHAT.chunk, LENIENT_CHUNK, True, ChatCompletionChunk),
    ],
    ids=["response", "response.completed", "chat.completion", "chat.completion.chunk"],
)
def test_lenient_payloads_are_typed_as_the_class_the_sdk_builds(
    type_name: str | None, data: dict[str, Any], stream: bool, expected: type[Any]
) -> None:
    assert type_name is not None
    with pytest.raises(pydantic.ValidationError):  # the premise: strict validation refuses it
        expected.model_validate(data)
    value = envelope(data, type_name, stream=stream)
    assert value == {"__type__": type_name_of(expected), "__data__": data}
    built: Any = construct_type(type_=import_target(type_name), value=data)  # what the SDK returns
    revived = revive(value)
    assert type(revived) is type(built) is expected
    assert revived == built
    assert revived.model_fields_set == built.model_fields_set
    assert revived.model_dump(warnings=False) == built.model_dump(warnings=False)


def import_target(type_name: str) -> Any:
    """The class or union alias a rule names (what the SDK passes to construct_type as cast_to)."""
    module, _, name = type_name.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_an_unknown_event_type_is_the_variant_the_sdk_falls_back_to() -> None:
    # construct_type: no variant's "type" literal matches, so the first variant that constructs
    data = {"type": "response.brand_new_event", "sequence_number": 3}
    built = construct_type(type_=ResponseStreamEvent, value=data)
    value = envelope(data, RESPONSES.chunk, stream=True)
    assert value == {"__type__": type_name_of(type(built)), "__data__": data}
    assert revive(value) == built


@pytest.mark.parametrize(
    ("type_name", "data", "event", "reason"),
    [
        (
            RESPONSES.chunk,
            {"type": "error", "sequence_number": 2, "error": {"message": "boom"}},
            "error",
            "error",
        ),
        (CHAT.chunk, {"error": {"message": "boom", "type": "server_error"}}, None, "error"),
        (MESSAGES.chunk, {"type": "ping"}, "ping", "skipped"),
        (MESSAGES.chunk, {"type": "message_stop"}, None, "skipped"),
        (
            MESSAGES.chunk,
            {"type": "error", "error": {"type": "overloaded_error", "message": "x"}},
            "error",
            "error",
        ),
        (OLLAMA_CHAT.chunk, {"error": "model not found"}, None, "error"),
    ],
    ids=[
        "openai-responses-error",
        "openai-chat-error",
        "anthropic-ping",
        "anthropic-unnamed",
        "anthropic-error",
        "ollama-error",
    ],
)
def test_stream_events_the_sdk_raises_on_or_skips_stay_plain_with_the_reason(
    type_name: str | None, data: dict[str, Any], event: str | None, reason: str
) -> None:
    assert type_name is not None
    value = envelope(data, type_name, stream=True, event=event)
    assert value == {"__data__": data, "__untyped__": reason}
    assert revive(value) == data


def test_an_error_key_outside_a_stream_is_built_like_any_object() -> None:
    # only openai/_streaming.py Stream.__stream__ raises on "error"; a 200 body is constructed
    data = {**LENIENT_RESPONSE, "error": {"code": "server_error", "message": "x"}}
    assert envelope(data, RESPONSES.body) == {"__type__": type_name_of(Response), "__data__": data}


def test_a_strict_sdk_keeps_what_it_would_refuse_with_the_reason() -> None:
    # ollama/_client.py _request: cls(**part) validates, so a bad line made the live call raise
    good = {"model": "m", "message": {"role": "assistant", "content": "hi"}, "done": False}
    bad = {**good, "eval_count": "many"}
    assert envelope(good, OLLAMA_CHAT.chunk, stream=True)["__type__"] == OLLAMA_CHAT.chunk
    assert envelope(bad, OLLAMA_CHAT.chunk, stream=True) == {"__data__": bad, "__untyped__": "invalid"}


@pytest.mark.parametrize("data", [[LENIENT_CHAT], "text", 3, None])
def test_a_value_that_is_not_an_object_is_kept_as_it_is(data: Any) -> None:
    assert envelope(data, CHAT.body) == data
    assert envelope(data, CHAT.chunk, stream=True) == data


def test_a_class_that_cannot_be_imported_is_marked_unavailable() -> None:
    value = envelope({"a": 1}, "openai.types.no_such_module.Nope")
    assert value == {"__data__": {"a": 1}, "__untyped__": "unavailable"}


def _replayed(body: Any, *, streaming: bool) -> dict[str, Any]:
    request = {"method": "POST", "url": "https://api.openai.com/v1/responses"}
    return {"request": request, "response": {"body": body, "is_streaming": streaming, "status": 200}}


@pytest.mark.parametrize("streaming", [False, True])
def test_loading_accepts_the_untyped_marker(streaming: bool) -> None:
    item = {"__data__": {"type": "error", "error": {}}, "__untyped__": "error"}
    body = [{**item, "__event__": "error"}, item] if streaming else item
    check_replay(_replayed(body, streaming=streaming), ndjson=False, typed=True)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"__data__": {}, "__untyped__": 1}, "__untyped__"),
        ({"__data__": {}, "__untyped__": "error", "__type__": "openai.types.model.Model"}, "__untyped__"),
        ({"__untyped__": "error"}, "__data__"),
        ({"__data__": [], "__untyped__": "error"}, "__data__"),
    ],
    ids=["not-a-string", "next-to-a-type", "no-data", "not-an-object"],
)
@pytest.mark.parametrize("streaming", [False, True])
def test_loading_refuses_a_malformed_untyped_marker(
    item: dict[str, Any], message: str, streaming: bool
) -> None:
    body = [item] if streaming else item
    with pytest.raises(RecordingFormatError, match=message):
        check_replay(_replayed(body, streaming=streaming), ndjson=False, typed=True)


@pytest.mark.parametrize(
    ("sdk", "typed"),
    [
        ("Anthropic/Python 0.69.0", False),
        ("OpenAI/Python 3.57.0", True),
        ("python-httpx/0.28.1", True),
        (None, True),
    ],
)
def test_a_rule_typing_with_another_known_sdks_classes_is_skipped(sdk: str | None, typed: bool) -> None:
    # an Anthropic client's GET /v1/models is built by anthropic (ModelInfo), never as openai's Model
    rule = REGISTRY.rule_for("GET", "/v1/models", sdk=sdk)
    assert (rule is not None and rule.items == type_name_of(Model)) is typed
    assert REGISTRY.rule_for("POST", "/v1/messages", sdk="Anthropic/Python 0.69.0") == MESSAGES
    assert REGISTRY.rule_for("POST", "/api/chat", sdk="ollama-python/0.6.3") == OLLAMA_CHAT
