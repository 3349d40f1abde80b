"""OpenAI beyond chat: the Responses API, moderations, images, speech, files, compressed bodies.

Each test records with the real SDK against the local server, replays with no server, and checks
the replayed objects equal the live ones (normalised fields masked) and what the files hold.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import anthropic
import ollama
import openai
import pytest
from openai.types.responses.response_completed_event import ResponseCompletedEvent
from openai.types.responses.response_created_event import ResponseCreatedEvent
from openai.types.responses.response_text_delta_event import ResponseTextDeltaEvent

from llama_vcr import recording_files
from tests.fakes.openai_misc_routes import SPEECH_BYTES
from tests.fakes.server import FakeProviderServer
from tests.providers.support import (
    API_KEY,
    OFFLINE_URL,
    arecord_then_replay,
    assert_same_objects,
    by_endpoint,
    cassette,
    decoded_body,
    documents,
    masked,
    record_then_replay,
    sse_events,
)

RESPONSE = "openai.types.responses.response.Response"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client(root: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=root + "/v1", api_key=API_KEY, max_retries=0)


def aclient(root: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=root + "/v1", api_key=API_KEY, max_retries=0)


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# --- Responses API ---------------------------------------------------------------------------------


def chain(root: str, stream: bool) -> list[Any]:
    """Three turns chained by previous_response_id, then the last response retrieved by id."""
    c = client(root)
    out: list[Any] = []
    previous = None
    for turn in ("Hello", "And then?", "Bye"):
        if stream:
            events = list(
                c.responses.create(
                    model="gpt-4o-mini", input=turn, previous_response_id=previous, stream=True
                )
            )
            out.append(events)
            previous = events[-1].response.id
        else:
            response = c.responses.create(model="gpt-4o-mini", input=turn, previous_response_id=previous)
            out.append(response)
            previous = response.id
    out.append(c.responses.retrieve(previous))
    return out


async def achain(root: str, stream: bool) -> list[Any]:
    out: list[Any] = []
    previous = None
    async with aclient(root) as c:  # closed in this test's event loop
        for turn in ("Hello", "And then?", "Bye"):
            if stream:
                created = await c.responses.create(
                    model="gpt-4o-mini", input=turn, previous_response_id=previous, stream=True
                )
                events = [event async for event in created]
                out.append(events)
                previous = events[-1].response.id
            else:
                response = await c.responses.create(
                    model="gpt-4o-mini", input=turn, previous_response_id=previous
                )
                out.append(response)
                previous = response.id
        out.append(await c.responses.retrieve(previous))
    return out


def check_chain(run: Any, stream: bool) -> None:
    assert_same_objects(run)
    final = run.replayed[-1]
    assert final.output_text == "Turn 3: Echo: Bye"
    assert final.id.startswith("rec-")  # the replayed ids are the stable ones
    created = by_endpoint(run.docs, "/responses")
    assert len(created) == 3 and len(run.docs) == 4
    previous = [d["request"]["body"].get("previous_response_id") for d in created]
    assert previous.count(None) == 1
    assert all(p.startswith("rec-") for p in previous if p)  # live ids were mapped when recorded
    [retrieved] = [d for d in run.docs if d["request"]["method"] == "GET"]
    assert retrieved["request"]["endpoint"].split("/")[-1].startswith("rec-")
    assert retrieved["response"]["body"]["__type__"] == RESPONSE
    for document, live in zip(sorted(created, key=_turn), run.live[:3], strict=True):
        body = document["response"]["body"]
        assert document["response"]["is_streaming"] is stream
        if not stream:
            assert body["__type__"] == RESPONSE
            continue
        assert document["response"]["sse_done"] is False
        assert [c["__type__"] for c in body] == [type_name(type(event)) for event in live]
        assert [c["__event__"] for c in body] == [c["__data__"]["type"] for c in body]
        kinds = {c["__type__"] for c in body}
        assert {type_name(cls) for cls in (ResponseCreatedEvent, ResponseTextDeltaEvent)} <= kinds
        assert body[-1]["__type__"] == type_name(ResponseCompletedEvent)


def _turn(document: dict[str, Any]) -> int:
    return ["Hello", "And then?", "Bye"].index(document["request"]["body"]["input"])


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_responses_chain_replays_with_zero_misses(
    tmp_path: Path, recording_schema: Any, stream: bool
) -> None:
    run = record_then_replay(tmp_path / "t", lambda root: chain(root, stream), recording_schema)
    check_chain(run, stream)
    if stream:
        assert isinstance(run.replayed[0][0], ResponseCreatedEvent)
        assert isinstance(run.replayed[0][-1], ResponseCompletedEvent)
        assert any(isinstance(e, ResponseTextDeltaEvent) for e in run.replayed[0])


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_async_responses_chain_replays_with_zero_misses(
    tmp_path: Path, recording_schema: Any, stream: bool
) -> None:
    run = await arecord_then_replay(tmp_path / "t", lambda root: achain(root, stream), recording_schema)
    check_chain(run, stream)


def test_responses_stream_replays_the_original_event_lines(tmp_path: Path, recording_schema: Any) -> None:
    def raw(root: str) -> bytes:
        c = client(root)
        with c.responses.with_streaming_response.create(model="gpt-4o-mini", input="Hi", stream=True) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            return b"".join(r.iter_bytes())

    run = record_then_replay(tmp_path / "t", raw, recording_schema)
    live, replayed = sse_events(run.live), sse_events(run.replayed)
    names = [name for name, _ in replayed]
    assert names == [name for name, _ in live]
    assert names[0] == "response.created" and names[-1] == "response.completed"
    assert "response.output_text.delta" in names
    assert masked([data for _, data in replayed]) == masked([data for _, data in live])
    [document] = run.docs
    assert sse_events(decoded_body(document)) == replayed
    assert decoded_body(document).startswith(b"event: response.created\ndata: {")


def test_a_retrieved_response_stream_is_typed_like_a_created_one(
    tmp_path: Path, recording_schema: Any
) -> None:
    def scenario(root: str) -> list[Any]:
        c = client(root)
        created = c.responses.create(model="gpt-4o-mini", input="Hello there")
        return [created, list(c.responses.retrieve(created.id, stream=True, starting_after=1))]

    run = record_then_replay(tmp_path / "t", scenario, recording_schema)
    assert_same_objects(run)
    assert isinstance(run.replayed[1][-1], ResponseCompletedEvent)
    [document] = [d for d in run.docs if d["request"]["method"] == "GET"]
    assert document["request"]["endpoint"].startswith("/v1/responses/rec-")
    body = document["response"]["body"]
    assert [c["__event__"] for c in body] == [e.type for e in run.live[1]]
    assert [c.get("__type__") for c in body] == [
        type_name(type(e)) for e in run.live[1]
    ]  # typed like POST events


# --- moderations, images, speech ---------------------------------------------------------------------


def misc(root: str) -> list[Any]:
    c = client(root)
    return [
        c.moderations.create(model="omni-moderation-latest", input=["I will kill the process", "hello"]),
        c.images.generate(model="gpt-image-1", prompt="a red square"),
        c.images.generate(model="dall-e-2", prompt="a blue square", response_format="b64_json", n=2),
        c.audio.speech.create(model="tts-1", voice="alloy", input="Hello there").content,
        c.audio.speech.create(model="tts-1", voice="alloy", input="Hello", response_format="wav").content,
    ]


def check_misc(run: Any) -> None:
    assert_same_objects(run)
    moderation, image, images, mp3, wav = run.replayed
    assert moderation.results[0].flagged and not moderation.results[1].flagged
    assert base64.b64decode(image.data[0].b64_json or "").startswith(b"\x89PNG")
    assert len(images.data) == 2
    assert mp3 == run.live[3] and wav == run.live[4] and len(mp3) == SPEECH_BYTES  # byte-exact
    types = {d["request"]["endpoint"]: d["response"]["body"].get("__type__") for d in run.docs}
    assert types["/v1/moderations"] == "openai.types.moderation_create_response.ModerationCreateResponse"
    assert types["/v1/images/generations"] == "openai.types.images_response.ImagesResponse"
    for document in by_endpoint(run.docs, "/audio/speech"):
        body = document["response"]["body"]
        assert set(body) == {"__bytes__"} and document["response"]["is_streaming"] is False
        assert base64.b64decode(body["__bytes__"]) in (mp3, wav)
        assert document["response"]["headers"]["content-type"] in ("audio/mpeg", "audio/wav")


def test_moderations_images_and_speech(tmp_path: Path, recording_schema: Any) -> None:
    check_misc(record_then_replay(tmp_path / "t", misc, recording_schema))


@pytest.mark.anyio
async def test_async_moderations_images_and_speech(tmp_path: Path, recording_schema: Any) -> None:
    async def scenario(root: str) -> list[Any]:
        async with aclient(root) as c:
            moderation = ["I will kill the process", "hello"]
            return [
                await c.moderations.create(model="omni-moderation-latest", input=moderation),
                await c.images.generate(model="gpt-image-1", prompt="a red square"),
                await c.images.generate(
                    model="dall-e-2", prompt="a blue square", response_format="b64_json", n=2
                ),
                (await c.audio.speech.create(model="tts-1", voice="alloy", input="Hello there")).content,
                (
                    await c.audio.speech.create(
                        model="tts-1", voice="alloy", input="Hello", response_format="wav"
                    )
                ).content,
            ]

    check_misc(await arecord_then_replay(tmp_path / "t", scenario, recording_schema))


# --- files -------------------------------------------------------------------------------------------

UPLOAD = b'{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": "d"}\n'


def files(root: str) -> list[Any]:
    c = client(root)
    uploaded = c.files.create(file=("train.jsonl", UPLOAD, "application/jsonl"), purpose="fine-tune")
    return [uploaded, c.files.retrieve(uploaded.id), c.files.content(uploaded.id).content]


def test_file_upload_is_stored_readable_and_its_id_replays_in_a_path(
    tmp_path: Path, recording_schema: Any
) -> None:
    run = record_then_replay(tmp_path / "t", files, recording_schema)
    assert_same_objects(run)
    uploaded, retrieved, content = run.replayed
    assert uploaded.id == retrieved.id and uploaded.id.startswith("rec-") and content == UPLOAD
    [upload] = [d for d in run.docs if d["request"]["method"] == "POST"]
    request = upload["request"]
    assert request["headers"]["content-type"] == "multipart/form-data"  # no boundary
    parts = {part["name"]: part for part in request["body"]["__multipart__"]}
    assert parts["purpose"]["text"] == "fine-tune"
    assert parts["file"]["filename"] == "train.jsonl" and parts["file"]["text"] == UPLOAD.decode()
    assert "boundary" not in json.dumps(upload)
    assert upload["response"]["body"]["__type__"] == "openai.types.file_object.FileObject"
    gets = [d["request"]["endpoint"] for d in run.docs if d["request"]["method"] == "GET"]
    stable = upload["response"]["body"]["__data__"]["id"]
    assert sorted(gets) == [f"/v1/files/{stable}", f"/v1/files/{stable}/content"]


def test_rerecording_a_file_upload_gives_the_same_files(tmp_path: Path, recording_schema: Any) -> None:
    directory = tmp_path / "t"
    with FakeProviderServer() as server, cassette(directory, "once"):
        files(server.url)
        port = server.port  # the same URL next time: only what the server sends may differ
    first = {p.name: p.read_bytes() for p in recording_files(directory)}
    with FakeProviderServer(port=port) as server, cassette(directory, "all"):  # new boundary and file id
        files(server.url)
        assert len(server.hits) == 3
    assert {p.name: p.read_bytes() for p in recording_files(directory)} == first
    documents(directory, recording_schema)
    with cassette(directory, "none"):
        assert files(OFFLINE_URL)[2] == UPLOAD


# --- compressed responses (every provider) ----------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_responses_are_stored_decoded_and_replay(
    tmp_path: Path, recording_schema: Any, encoding: str
) -> None:
    squeeze = [{"role": "user", "content": "squeeze"}]

    def scenario(root: str) -> list[Any]:
        c = client(root)
        chat = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=squeeze)
        claude = anthropic.Anthropic(base_url=root, api_key=API_KEY, max_retries=0)
        message = claude.messages.with_raw_response.create(model="claude-x", max_tokens=9, messages=squeeze)
        return [
            [chat.headers.get("content-encoding"), message.headers.get("content-encoding")],
            chat.parse(),
            c.embeddings.create(model="text-embedding-3-small", input="squeeze", encoding_format="float"),
            message.parse(),
            ollama.Client(host=root).chat(model="llama3.2", messages=squeeze),
            ollama.Client(host=root).list(),
        ]

    run = record_then_replay(tmp_path / "t", scenario, recording_schema, **{encoding: True})
    assert run.live[0] == [encoding, encoding]  # the server really compressed them
    assert run.replayed[0] == [None, None]  # replayed as plain bodies, without content-encoding
    run.live[0] = run.replayed[0]
    assert_same_objects(run)
    assert run.replayed[1].choices[0].message.content == "Echo: squeeze"
    assert run.replayed[3].content[0].text == run.replayed[4].message.content == "Echo: squeeze"
    for document in run.docs:
        assert "content-encoding" not in document["response"]["headers"]
        assert document["response"]["body"]["__type__"].split(".")[0] in ("openai", "anthropic", "ollama")
    texts = [p.read_text() for p in recording_files(tmp_path / "t")]
    assert sum('"Echo: squeeze"' in text for text in texts) == 3  # stored readable
