"""The real llama-stack recordings (read in place from ../shared/corpus) load and replay."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest
import vcr
from openai.types.chat import ChatCompletionChunk

from llama_vcr import CODEC, revive
from llama_vcr._vcrpy import configure_vcr

SEED = "responses/recordings/3e85d726f8264678af4b790643e62ec7480fd71c5a581a7b898d8c721cafacda.json"
SATURN = (
    'THE PLANET WITH RINGS AROUND IT AND A NAME STARTING WITH THE LETTER "S" IS SATURN. '
    "SATURN IS WELL-KNOWN FOR ITS PROMINENT RING SYSTEM."
)


def offline_vcr(extra: Path) -> vcr.VCR:
    recorder = vcr.VCR(record_mode="none")
    configure_vcr(recorder, CODEC, "tests/test_corpus.py::seed")
    recorder.persister.extra_paths = [str(extra)]
    return recorder


def test_seed_envelopes_revive_as_chunks(corpus_dir: Path) -> None:
    document = json.loads((corpus_dir / SEED).read_text())
    chunks = revive(document["response"]["body"])
    assert all(isinstance(chunk, ChatCompletionChunk) for chunk in chunks)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices) == SATURN


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_seed_replays_through_the_openai_sdk(corpus_dir: Path, tmp_path: Path, use_async: bool) -> None:
    document = json.loads((corpus_dir / SEED).read_text())
    kwargs = {"model": "gpt-4o", "messages": document["request"]["body"]["messages"], "stream": True}
    expected = [chunk.model_dump() for chunk in revive(document["response"]["body"])]
    base_url = "https://api.openai.com/v1"  # the recorded host; never contacted
    with offline_vcr(corpus_dir / SEED).use_cassette(str(tmp_path / "seed")):
        if use_async:
            import anyio

            async def run() -> list[ChatCompletionChunk]:
                client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-none")
                return [chunk async for chunk in await client.chat.completions.create(**kwargs)]

            chunks = anyio.run(run)
        else:
            client = openai.OpenAI(base_url=base_url, api_key="sk-none")
            chunks = list(client.chat.completions.create(**kwargs))
    assert [chunk.model_dump() for chunk in chunks] == expected
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices) == SATURN
    assert not (tmp_path / "seed").exists()  # replay wrote nothing
