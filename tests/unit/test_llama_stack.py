"""Files llama-stack's recorder wrote replay as llama-stack would serve them (no corpus needed).

The documents are small copies of the shapes real llama-stack files have (``../shared/corpus``):
raw-HTTP SSE line streams, WatsonX listings with ``extra_query``, model lists sharing a hash, and
records that are no HTTP exchange beside HTTP ones.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import anthropic
import httpx
import ollama
import openai
import pytest
import vcr

from llama_vcr import CODEC, NotReplayableWarning
from llama_vcr._vcrpy import configure_vcr
from llama_vcr.format.llama_stack import merge_model_lists, model_list_group, not_replayable

TEST_ID = "tests/integration/messages/test_messages.py::test_stream"
_START = {"id": "msg_1", "type": "message", "role": "assistant", "model": "gpt-oss:20b", "content": [],
          "usage": {"input_tokens": 7, "output_tokens": 0}}  # fmt: skip
ANTHROPIC_EVENTS = [
    ("message_start", {"type": "message_start", "message": _START}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
     "content_block": {"type": "text", "text": ""}}),
    ("ping", {"type": "ping"}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
     "delta": {"type": "text_delta", "text": "Hello"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
     "usage": {"output_tokens": 3}}),
    ("message_stop", {"type": "message_stop"}),
]  # fmt: skip


def sse_lines(events: list[tuple[str, Any]]) -> list[str]:
    """A stream as llama-stack's recorder keeps it: ``aiter_lines()``, compact JSON as sent."""
    lines = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        lines += [f"event: {name}", f"data: {text}", ""]
    return lines


def raw_record(url: str, payload: dict[str, Any], body: Any, streaming: bool) -> dict[str, Any]:
    request = {"test_id": TEST_ID, "url": url, "method": "POST", "payload": payload}
    return {"test_id": TEST_ID, "request": request, "response": {"body": body, "is_streaming": streaming},
            "id_normalization_mapping": {}}  # fmt: skip


def sdk_record(
    url: str, endpoint: str, body: Any, response_body: Any, test_id: str | None = None
) -> dict[str, Any]:
    request = {"method": "POST", "url": url, "headers": {}, "body": body, "endpoint": endpoint, "model": "",
               "provider_metadata": {"openai_sdk_version": "2.5.0"}}  # fmt: skip
    return {
        "test_id": test_id,
        "request": request,
        "response": {"body": response_body, "is_streaming": False},
    }


def model(model_id: str, owner: str = "openai") -> dict[str, Any]:
    data = {"id": model_id, "created": 1, "object": "model", "owned_by": owner}
    return {"__type__": "openai.types.model.Model", "__data__": data}


def offline(*paths: Path) -> vcr.VCR:
    recorder = vcr.VCR(record_mode="none")
    configure_vcr(recorder, CODEC, TEST_ID)
    recorder.persister.extra_paths = [str(path) for path in paths]
    return recorder


def write(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


# --- 1. raw-HTTP streams: the SSE lines as they are -------------------------------------------------


def test_a_raw_anthropic_stream_replays_every_event_through_the_sdk(tmp_path: Path) -> None:
    payload = {"model": "gpt-oss:20b", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 64,
               "stream": True}  # fmt: skip
    lines = sse_lines(ANTHROPIC_EVENTS)
    path = write(
        tmp_path / "r" / "a.json", raw_record("http://0.0.0.0:11434/v1/messages", payload, lines, True)
    )
    with offline(path).use_cassette(str(tmp_path / "c")):
        client = anthropic.Anthropic(base_url="http://0.0.0.0:11434", api_key="sk-none", max_retries=0)
        events = [event.to_dict() for event in client.messages.create(**payload)]
    assert events == [data for name, data in ANTHROPIC_EVENTS if name != "ping"]  # (the SDK drops pings)


def test_raw_stream_lines_replay_byte_for_byte_without_done(tmp_path: Path) -> None:
    """A Gemini ``/interactions`` stream: 3 events in 9 lines, one whose data is not JSON."""
    events = [("interaction.start", {"event_type": "interaction.start"}),
              ("content.delta", {"delta": {"text": "1, 2"}, "event_type": "content.delta"}),
              ("done", "[DONE]")]  # fmt: skip
    lines = sse_lines(events)
    url = "https://generativelanguage.googleapis.com/v1beta/interactions"
    path = write(
        tmp_path / "g.json", raw_record(url, {"model": "gemini", "input": "x", "stream": True}, lines, True)
    )
    _, response = CODEC.decode(json.loads(path.read_text()))
    assert response["body"]["string"] == "".join(f"{line}\n" for line in lines).encode()
    assert response["headers"]["content-type"] == ["text/event-stream; charset=utf-8"]
    with offline(path).use_cassette(str(tmp_path / "c")), httpx.Client() as http:
        reply = http.post(url, json={"model": "gemini", "input": "x", "stream": True})
    assert reply.text.count("data: ") == 3 and reply.text.endswith("event: done\ndata: [DONE]\n\n")


# --- 2. listings with extra_query / extra_body: a GET with a query string -----------------------------


def test_a_watsonx_listing_with_extra_query_replays_as_the_get_the_sdk_sends(tmp_path: Path) -> None:
    query = {"project_id": "1461945d-7925-4b82-b90b-ecd907a98d77"}
    document = sdk_record("https://us-south.ml.cloud.ibm.com/ml/v1/v1/models", "/v1/models",
                          {"extra_query": query}, [model("ibm/granite-3-8b-instruct", "IBM")])  # fmt: skip
    request, _ = CODEC.decode(document)
    assert (request.method, request.body) == ("GET", None)
    assert request.uri == f"https://us-south.ml.cloud.ibm.com/ml/v1/models?project_id={query['project_id']}"
    path = write(tmp_path / "r" / f"models-{'0' * 64}-c99eb79a.json", document)
    with offline(path).use_cassette(str(tmp_path / "c")):
        client = openai.OpenAI(base_url="https://us-south.ml.cloud.ibm.com/ml/v1", api_key="k", max_retries=0)
        assert [m.id for m in client.models.list(extra_query=query)] == ["ibm/granite-3-8b-instruct"]


def test_extra_body_is_merged_into_the_body_and_extra_query_into_the_url() -> None:
    body = {"model": "m", "messages": [], "extra_body": {"guided_choice": ["a"]}, "extra_query": {"v": "1"}}
    request, _ = CODEC.decode(sdk_record("http://h/v1/v1/chat/completions", "/v1/chat/completions", body, {}))
    assert request.uri == "http://h/v1/chat/completions?v=1"
    assert json.loads(request.body) == {"model": "m", "messages": [], "guided_choice": ["a"]}


# --- 3. model lists sharing a hash: their union, sorted, on every call --------------------------------


def test_model_lists_sharing_a_hash_replay_as_their_sorted_union(tmp_path: Path) -> None:
    digest = "0037f2d2065a360cfcc36c35f138318cfc6508e743ff9423da4b7b1d7bfd4f3f"
    folder = tmp_path / "recordings"
    openai_list = sdk_record(
        "https://api.openai.com/v1/v1/models", "/v1/models", {}, [model("gpt-4"), model("b")]
    )
    vllm_list = sdk_record(
        "http://localhost:8000/v1/v1/models", "/v1/models", {}, [model("Qwen/Qwen3", "vllm")]
    )
    first = write(folder / f"models-{digest}-0da7d1b1.json", openai_list)
    write(folder / f"models-{digest}-fb68f5a6.json", vllm_list)
    write(
        folder / f"models-{'1' * 64}-00000000.json",
        sdk_record("http://x/v1/v1/models", "/v1/models", {}, [model("z")]),
    )
    assert [p.name[-13:] for p in model_list_group(first)] == ["0da7d1b1.json", "fb68f5a6.json"]
    with offline(first).use_cassette(str(tmp_path / "c")):
        client = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="k", max_retries=0)
        assert [m.id for m in client.models.list()] == ["Qwen/Qwen3", "b", "gpt-4"]


def test_ollama_tags_merge_by_model_name() -> None:
    def tags(*names: str) -> dict[str, Any]:
        models = [{"model": name, "name": name} for name in names]
        body = {"__type__": "ollama._types.ListResponse", "__data__": {"models": models}}
        return sdk_record("http://localhost:11434/api/tags", "/api/tags", {}, body)

    merged = merge_model_lists([tags("llama3", "b"), tags("a", "llama3")])
    assert [m["model"] for m in merged["response"]["body"]["__data__"]["models"]] == ["a", "b", "llama3"]
    request, response = CODEC.decode(merged)
    assert request.method == "GET" and json.loads(response["body"]["string"])["models"][0]["model"] == "a"
    assert ollama.ListResponse.model_validate_json(response["body"]["string"]).models[2].model == "llama3"


# --- 4. records that are no HTTP exchange never stop the others ----------------------------------------

_RESULT = {"__type__": "llama_stack.apis.tools.tools.ToolInvocationResult", "__data__": {"content": "x"}}
TOOL = {"test_id": TEST_ID, "request": {"test_id": TEST_ID, "provider": "tavily", "tool_name": "web_search",
        "kwargs": {"query": "q"}}, "response": {"body": _RESULT, "is_streaming": False}}  # fmt: skip
GENAI = sdk_record("vertexai:///generate_content_stream", "/generate_content_stream", {"model": "gemini"}, {})


@pytest.mark.parametrize("own", [True, False], ids=["test-directory", "extra-cassette"])
def test_a_non_http_record_is_skipped_with_a_note_and_its_neighbours_replay(
    tmp_path: Path, own: bool
) -> None:
    folder = tmp_path / "recordings"
    write(folder / ("a" * 64 + ".json"), TOOL)
    write(folder / ("b" * 64 + ".json"), GENAI)
    chat = {"id": "rec-1", "object": "list", "data": [model("m")]}
    write(folder / ("c" * 64 + ".json"), sdk_record("http://h/v1/v1/models", "/v1/models", {}, chat))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recorder, cassette = (offline(), folder) if own else (offline(folder), tmp_path / "c")
        with recorder.use_cassette(str(cassette)):
            client = openai.OpenAI(base_url="http://h/v1", api_key="k", max_retries=0)
            assert [m.id for m in client.models.list()] == ["m"]
    notes = sorted(str(w.message) for w in caught if issubclass(w.category, NotReplayableWarning))
    assert len(notes) == 2
    assert "a llama-stack tool runtime call (tavily.web_search)" in notes[0]
    assert "a google-genai SDK call (vertexai:///generate_content_stream)" in notes[1]
    assert not any("re-record" in note and "delete" in note for note in notes)


@pytest.mark.parametrize(
    ("document", "reason"), [(TOOL, "tool runtime call"), (GENAI, "google-genai SDK call")]
)
def test_not_replayable_names_the_kind(document: dict[str, Any], reason: str) -> None:
    assert reason in (not_replayable(document) or "")
    assert (
        not_replayable(sdk_record("__databricks__/serving-endpoints/v1/chat/completions", "/v1/x", {}, {}))
        is None
    )
