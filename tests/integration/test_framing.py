"""Streams under a wrong Content-Type, and redirects, recorded through real SDKs and replayed.

Each test records against the local server (`tests/fakes/framing_routes.py`: `/framing/<label>`
relabels the regular routes' answers or redirects to them), then replays with no server, and
checks the client gets what it got live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import ollama
import openai
import pytest
import requests

from llama_vcr.format.framing import FRAMING_KEY
from tests.fakes.framing_routes import CONTENT_TYPES
from tests.providers.support import API_KEY, assert_same_objects, by_endpoint, record_then_replay

MESSAGES = [{"role": "user", "content": "hi there"}]
CHUNK = "openai.types.chat.chat_completion_chunk.ChatCompletionChunk"


def openai_client(root: str, label: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{root}/framing/{label}/v1", api_key=API_KEY, max_retries=0)


@pytest.mark.parametrize("label", ["x-ndjson", "json", "plain"])
def test_sse_under_a_wrong_content_type_replays_the_same_chunks(
    label: str, tmp_path: Path, recording_schema: Any
) -> None:
    """LitServe serves SSE as application/x-ndjson; the openai SDK reads SSE whatever the header."""

    def scenario(root: str) -> Any:
        client = openai_client(root, label)
        return list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))

    run = record_then_replay(tmp_path, scenario, recording_schema)
    assert len(run.live) > 2
    assert_same_objects(run)
    [doc] = run.docs
    response = doc["response"]
    assert response["headers"]["content-type"] == CONTENT_TYPES[label]  # kept as the server sent it
    assert response["is_streaming"] is True and response["sse_done"] is True
    assert {chunk["__type__"] for chunk in response["body"]} == {CHUNK}  # typed, ids normalised
    # only a header that would say NDJSON needs the framing written down
    assert response.get(FRAMING_KEY) == ("sse" if label == "x-ndjson" else None)


@pytest.mark.parametrize("label", ["event-stream", "json", "plain"])
def test_ndjson_under_a_wrong_content_type_replays_the_same_parts(
    label: str, tmp_path: Path, recording_schema: Any
) -> None:
    def scenario(root: str) -> Any:
        client = ollama.Client(host=f"{root}/framing/{label}")
        return list(client.chat(model="llama3.2", messages=MESSAGES, stream=True))

    run = record_then_replay(tmp_path, scenario, recording_schema)
    assert len(run.live) > 2
    assert_same_objects(run)
    [doc] = run.docs
    response = doc["response"]
    assert response["headers"]["content-type"] == CONTENT_TYPES[label]
    assert response["is_streaming"] is True and response[FRAMING_KEY] == "ndjson"
    assert all(part["__type__"] == "ollama._types.ChatResponse" for part in response["body"])


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("stream", [False, True], ids=["body", "stream"])
def test_an_sdk_call_redirected_replays_as_it_was_followed(
    status: int, stream: bool, tmp_path: Path, recording_schema: Any
) -> None:
    def scenario(root: str) -> Any:
        client = openai_client(root, str(status))
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=stream
        )
        parsed = raw.parse()
        objects = list(parsed) if stream else parsed
        return objects, urlsplit(str(raw.http_response.url)).path, _history(raw.http_response)

    run = record_then_replay(tmp_path, scenario, recording_schema)
    (live, live_path, live_history), (replayed, path, history) = run.live, run.replayed
    assert (
        (path, history)
        == (live_path, live_history)
        == ("/v1/chat/completions", [(status, "/v1/chat/completions")])
    )
    assert_same_objects(type(run)(live, replayed, run.docs, run.directory))
    [hop] = by_endpoint(run.docs, f"/framing/{status}/v1/chat/completions")
    assert hop["response"]["status"] == status
    assert hop["response"]["headers"]["location"] == "/v1/chat/completions"


def _history(response: httpx.Response) -> list[tuple[int, str]]:
    """Each redirect a response followed: (status, the path its `location` names)."""
    return [(hop.status_code, hop.headers["location"]) for hop in response.history]


def test_requests_follows_a_recorded_redirect_the_same_way(tmp_path: Path, recording_schema: Any) -> None:
    def scenario(root: str) -> Any:
        answer = requests.post(
            f"{root}/framing/307/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": MESSAGES},
            headers={"authorization": f"Bearer {API_KEY}"},
            timeout=30,
        )
        hops = [(hop.status_code, hop.headers["location"]) for hop in answer.history]
        return answer.status_code, urlsplit(answer.url).path, hops, answer.json()["choices"]

    run = record_then_replay(tmp_path, scenario, recording_schema)
    assert run.replayed == run.live
    assert run.live[:3] == (200, "/v1/chat/completions", [(307, "/v1/chat/completions")])
