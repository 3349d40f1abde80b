"""Synthetic recordings for the benchmarks: the same interactions as llama-vcr files and as YAML."""

from __future__ import annotations

import contextlib
import json
import random
import time
from pathlib import Path
from typing import Any

import httpx2
import openai
import vcr
from vcr.request import Request

from llama_vcr import CODEC
from llama_vcr._vcrpy import configure_vcr
from llama_vcr._vcrpy.persister import RecordingPersister

WORDS = [
    "the",
    "planet",
    "with",
    "rings",
    "around",
    "it",
    "and",
    "a",
    "name",
    "starting",
    "with",
    "the",
    "letter",
    "s",
    "is",
    "saturn",
]


def _chat(prompt: str, n_words: int) -> dict[str, Any]:
    text = " ".join(random.choice(WORDS) for _ in range(n_words))
    return {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": n_words, "total_tokens": 5 + n_words},
    }


def _chunks(n_chunks: int) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    return [
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"content": random.choice(WORDS) + " "}, "finish_reason": None}
            ],
        }
        for _ in range(n_chunks)
    ]


def interaction(prompt: str, stream: bool, size: int = 40) -> tuple[Request, dict[str, Any]]:
    """One chat request and its wire response (SSE when ``stream``)."""
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}], "stream": stream}
    request = Request(
        "POST",
        "http://127.0.0.1:9/v1/chat/completions",
        json.dumps(body).encode(),
        {"content-type": "application/json"},
    )
    if stream:
        payload = (
            b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in _chunks(size))
            + b"data: [DONE]\n\n"
        )
        content_type = "text/event-stream; charset=utf-8"
    else:
        payload = json.dumps(_chat(prompt, size)).encode()
        content_type = "application/json"
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": [content_type]},
        "body": {"string": payload},
    }
    return request, response


def prompts(test: int, requests: int) -> list[tuple[str, bool]]:
    return [(f"test {test} question {r}", r % 2 == 1) for r in range(requests)]


def write_suite(root: Path, tests: int, requests: int, size: int = 40) -> None:
    """``root/llama/test_<i>/`` recordings and ``root/yaml/test_<i>.yaml`` cassettes, same content."""
    random.seed(1)
    for test in range(tests):
        pairs = [interaction(prompt, stream, size) for prompt, stream in prompts(test, requests)]
        cassette = {"requests": [r for r, _ in pairs], "responses": [s for _, s in pairs]}
        RecordingPersister(CODEC, test_id=f"bench.py::test_{test}").save_cassette(
            str(root / "llama" / f"test_{test}"), cassette, CODEC
        )
        vcr.persisters.filesystem.FilesystemPersister.save_cassette(
            str(root / "yaml" / f"test_{test}.yaml"), cassette, vcr.serializers.yamlserializer
        )


def llama_vcr_recorder() -> vcr.VCR:
    recorder = vcr.VCR(record_mode="none")
    configure_vcr(recorder, CODEC, "bench.py::test")
    return recorder


def yaml_recorder() -> vcr.VCR:
    return vcr.VCR(record_mode="none", serializer="yaml")


def replay_transport(recorder: vcr.VCR, paths: list[str], requests: int) -> float:
    """Seconds to replay every test at the HTTP level (httpx, no SDK): the record/replay layer alone."""
    client = openai.DefaultHttpxClient()
    start = time.perf_counter()
    for test, path in enumerate(paths):
        if recorder.serializer == "llama_vcr":  # as the plugin does: the test's own id
            configure_vcr(recorder, CODEC, f"bench.py::test_{test}")
        with recorder.use_cassette(path):
            for prompt, stream in prompts(test, requests):
                body = {
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": prompt}],
                    "stream": stream,
                }
                response = client.post("http://127.0.0.1:9/v1/chat/completions", json=body)
                response.read()
    return time.perf_counter() - start


def sdk_only(paths: list[str], requests: int) -> float:
    """Seconds for the same SDK calls answered by an in-memory transport (no recorder at all)."""
    bodies = {}
    for path in paths:
        for request, response in zip(*RecordingPersister(CODEC).load_cassette(path, CODEC), strict=True):
            key = json.loads(request.body)
            bodies[key["messages"][0]["content"], key["stream"]] = (
                response["headers"]["content-type"][0],
                response["body"]["string"],
            )

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent = json.loads(request.content)
        content_type, data = bodies[sent["messages"][0]["content"], sent["stream"]]
        return httpx2.Response(200, headers={"content-type": content_type}, content=data)

    http_client = httpx2.Client(transport=httpx2.MockTransport(answer))
    client = openai.OpenAI(
        base_url="http://127.0.0.1:9/v1", api_key="sk-bench", max_retries=0, http_client=http_client
    )
    return _run(client, None, paths, requests)


def replay_suite(recorder: vcr.VCR, paths: list[str], requests: int) -> float:
    """Seconds to replay every test: open its cassette, make its requests through the SDK."""
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-bench", max_retries=0)
    return _run(client, recorder, paths, requests)


def _run(client: openai.OpenAI, recorder: vcr.VCR | None, paths: list[str], requests: int) -> float:
    start = time.perf_counter()
    llama = recorder is not None and recorder.serializer == "llama_vcr"
    for test, path in enumerate(paths):
        if llama:  # as the plugin does for every test: the test's own id (its files name it)
            configure_vcr(recorder, CODEC, f"bench.py::test_{test}")
        with recorder.use_cassette(path) if recorder else contextlib.nullcontext():
            for prompt, stream in prompts(test, requests):
                messages = [{"role": "user", "content": prompt}]
                reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=stream)
                if stream:
                    for _ in reply:
                        pass
    return time.perf_counter() - start
