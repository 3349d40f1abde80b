"""Issue 3 contract, end to end with the real SDKs: record against the local server, replay offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import ollama
import openai
import pytest
import vcr

from llama_vcr import CODEC, recording_files, recording_name
from llama_vcr._vcr import configure_vcr
from tests.openai_server import FakeOpenAIServer

OFFLINE = "http://127.0.0.1:9"


def make_vcr(mode: str) -> vcr.VCR:
    recorder = vcr.VCR(record_mode=mode)
    configure_vcr(recorder, CODEC, "tests/test_providers.py::t")
    return recorder


def documents(directory: Path, schema: Any) -> list[dict]:
    out = []
    for path in recording_files(directory):
        document = json.loads(path.read_text())
        schema.validate(document)
        assert recording_name(document) == path.name
        out.append(document)
    return out


def test_responses_chain_streams_typed_events_and_replays(tmp_path: Path, recording_schema: Any) -> None:
    def chain(base_url: str) -> list[str]:
        client = openai.OpenAI(base_url=base_url, api_key="sk-x", max_retries=0)
        first = client.responses.create(model="gpt-4o-mini", input="one")
        second = client.responses.create(model="gpt-4o-mini", input="two", previous_response_id=first.id)
        with client.responses.stream(model="gpt-4o-mini", input="three", previous_response_id=second.id) as s:
            text = "".join(e.delta for e in s if e.type == "response.output_text.delta")
        return [first.output_text, second.output_text, text]

    cassette = str(tmp_path / "t")
    with FakeOpenAIServer() as server, make_vcr("once").use_cassette(cassette):
        live = chain(server.base_url)
    with make_vcr("none").use_cassette(cassette):
        assert chain(OFFLINE + "/v1") == live
    stream = next(d for d in documents(tmp_path / "t", recording_schema) if d["response"]["is_streaming"])
    events = stream["response"]["body"]
    assert events[0]["__type__"] == "openai.types.responses.response_created_event.ResponseCreatedEvent"
    assert events[0]["__event__"] == "response.created"
    assert events[-1]["__type__"].endswith("ResponseCompletedEvent")
    _, replayed = CODEC.decode(stream)
    assert replayed["body"]["string"].startswith(b"event: response.created\ndata: ")


def test_anthropic_messages_and_stream_events(tmp_path: Path, recording_schema: Any) -> None:
    def talk(base_url: str) -> tuple[str, list[str]]:
        client = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-x", max_retries=0)
        message = client.messages.create(
            model="claude-x", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        )
        with client.messages.stream(
            model="claude-x", max_tokens=64, messages=[{"role": "user", "content": "yo"}]
        ) as s:
            kinds = [event.type for event in s]
        return message.content[0].text, kinds

    cassette = str(tmp_path / "t")
    with FakeOpenAIServer() as server, make_vcr("once").use_cassette(cassette):
        live = talk(server.url)
    with make_vcr("none").use_cassette(cassette):
        assert talk(OFFLINE) == live
    stream = next(d for d in documents(tmp_path / "t", recording_schema) if d["response"]["is_streaming"])
    names = [chunk["__event__"] for chunk in stream["response"]["body"]]
    assert names[0] == "message_start" and "content_block_delta" in names and names[-1] == "message_stop"
    assert (
        stream["response"]["body"][0]["__type__"]
        == "anthropic.types.raw_message_start_event.RawMessageStartEvent"
    )


def test_ollama_ndjson_streams_and_listings(tmp_path: Path, recording_schema: Any) -> None:
    def talk(host: str) -> list[Any]:
        client = ollama.Client(host=host)
        chunks = [
            c.message.content
            for c in client.chat(model="llama3", messages=[{"role": "user", "content": "hi"}], stream=True)
        ]
        generated = client.generate(model="llama3", prompt="go").response
        return [
            chunks,
            generated,
            len(client.embed(model="e", input="x").embeddings),
            [m.model for m in client.list().models],
        ]

    cassette = str(tmp_path / "t")
    with FakeOpenAIServer() as server, make_vcr("once").use_cassette(cassette):
        live = talk(server.url)
    with make_vcr("none").use_cassette(cassette):
        assert talk(OFFLINE) == live
    stream = next(d for d in documents(tmp_path / "t", recording_schema) if d["response"]["is_streaming"])
    assert {c["__type__"] for c in stream["response"]["body"]} == {"ollama._types.ChatResponse"}
    assert stream["response"]["headers"]["content-type"].startswith("application/x-ndjson")


def test_binary_speech_and_multipart_files(tmp_path: Path, recording_schema: Any) -> None:
    def run(base_url: str) -> tuple[bytes, str]:
        client = openai.OpenAI(base_url=base_url, api_key="sk-x", max_retries=0)
        audio = client.audio.speech.create(model="tts-1", voice="alloy", input="hello").content
        uploaded = client.files.create(file=("notes.txt", b"some notes"), purpose="assistants")
        return audio, client.files.retrieve(uploaded.id).filename

    cassette = str(tmp_path / "t")
    with FakeOpenAIServer() as server, make_vcr("once").use_cassette(cassette):
        port = server.port
        live = run(server.base_url)
    with make_vcr("none").use_cassette(cassette):
        assert run(OFFLINE + "/v1") == live
    docs = documents(tmp_path / "t", recording_schema)
    speech = next(d for d in docs if d["request"]["endpoint"].endswith("/audio/speech"))
    assert set(speech["response"]["body"]) == {"__bytes__"}
    upload = next(
        d for d in docs if d["request"]["endpoint"].endswith("/files") and d["request"]["method"] == "POST"
    )
    parts = upload["request"]["body"]["__multipart__"]
    assert {
        "name": "file",
        "filename": "notes.txt",
        "content_type": "text/plain",
        "text": "some notes",
    } in parts
    assert "boundary" not in upload["request"]["headers"]["content-type"]
    first = {p.name: p.read_bytes() for p in recording_files(tmp_path / "t")}
    with FakeOpenAIServer(port=port) as server, make_vcr("all").use_cassette(cassette):
        run(server.base_url)  # a new random boundary, fresh file ids: the same files
    assert {p.name: p.read_bytes() for p in recording_files(tmp_path / "t")} == first


@pytest.mark.parametrize("status", [400, 429, 500])
def test_errors_replay_as_the_same_sdk_exception(tmp_path: Path, status: int) -> None:
    def fail(base_url: str) -> tuple[type, int, str]:
        client = openai.OpenAI(base_url=base_url, api_key="sk-x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        return type(info.value), info.value.status_code, info.value.message

    cassette = str(tmp_path / "t")
    with FakeOpenAIServer() as server, make_vcr("once").use_cassette(cassette):
        server.queue_error(status, "nope")
        live = fail(server.base_url)
    with make_vcr("none").use_cassette(cassette):
        assert fail(OFFLINE + "/v1") == live


def test_a_stream_that_errors_part_way_replays_the_same_chunks_then_the_error(tmp_path: Path) -> None:
    def consume(base_url: str) -> tuple[list[str], str]:
        client = openai.OpenAI(base_url=base_url, api_key="sk-x", max_retries=0)
        seen: list[str] = []
        with pytest.raises(openai.APIError) as info:
            for chunk in client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "a b c d"}], stream=True
            ):
                seen.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
        return seen, info.value.message

    cassette = str(tmp_path / "t")
    with FakeOpenAIServer() as server, make_vcr("once").use_cassette(cassette):
        server.queue_stream_error(after_chunks=3)
        live = consume(server.base_url)
    with make_vcr("none").use_cassette(cassette):
        assert consume(OFFLINE + "/v1") == live
    assert len(live[0]) == 3


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_responses_are_stored_decoded(
    tmp_path: Path, encoding: str, recording_schema: Any
) -> None:
    def ask(base_url: str) -> str:
        client = openai.OpenAI(base_url=base_url, api_key="sk-x", max_retries=0)
        return (
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "z"}])
            .choices[0]
            .message.content
            or ""
        )

    cassette = str(tmp_path / "t")
    with FakeOpenAIServer(**{encoding: True}) as server, make_vcr("once").use_cassette(cassette):
        live = ask(server.base_url)
    with make_vcr("none").use_cassette(cassette):
        assert ask(OFFLINE + "/v1") == live == "Echo: z"
    [document] = documents(tmp_path / "t", recording_schema)
    assert document["response"]["body"]["__type__"].endswith("ChatCompletion")
