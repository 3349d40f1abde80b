"""The SDK type registry: envelopes and their revival into SDK classes."""

from __future__ import annotations

import pytest
from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from llama_vcr import REGISTRY, TypeRegistry, TypeRule, revive
from llama_vcr.format.envelopes import UnknownTypeError, envelope, import_type, type_name_of

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


def test_data_that_does_not_validate_is_kept_plain() -> None:
    assert envelope({"not": "a chunk"}, type_name_of(ChatCompletionChunk)) == {"not": "a chunk"}


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
