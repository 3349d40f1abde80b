"""The pytest plugin end to end: inner pytest runs (pytester) record against the local server
and replay with no server, exactly as a user would run ``pytest --record-mode=...``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llama_vcr import recording_files, recording_name
from llama_vcr._fixtures import vcr_config
from tests.fakes.server import FakeProviderServer
from tests.providers.support import masked

SECRET = "sk-inner-secret-0123456789"

APP = f'''
import json, os, time
from pathlib import Path

import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")
OUT = Path(os.environ.get("LLAMA_VCR_TEST_OUT", "out"))
PROMPT = os.environ.get("LLAMA_VCR_TEST_PROMPT", "hello")


def client(**kw):
    return openai.OpenAI(base_url=BASE, api_key="{SECRET}", max_retries=kw.pop("max_retries", 0), **kw)


def aclient(**kw):
    return openai.AsyncOpenAI(base_url=BASE, api_key="{SECRET}", max_retries=0, **kw)


def dump(name, objects):
    OUT.mkdir(exist_ok=True)
    (OUT / f"{{name}}.json").write_text(json.dumps([o.model_dump() for o in objects], sort_keys=True))


MESSAGES = [{{"role": "user", "content": PROMPT}}]


@pytest.mark.vcr
def test_chat():
    reply = client().chat.completions.create(model="gpt-4o", messages=MESSAGES, temperature=0.7)
    assert reply.choices[0].message.content == "Echo: " + PROMPT
    dump("chat", [reply])


@pytest.mark.vcr
def test_chat_stream():
    chunks = list(client().chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                   stream_options={{"include_usage": True}}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: " + PROMPT
    dump("chat_stream", chunks)


@pytest.mark.vcr
def test_stream_read_partly():
    stream = client().chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    first = next(iter(stream))
    stream.close()
    dump("partly", [first])


@pytest.mark.vcr
@pytest.mark.anyio
async def test_async_chat_and_stream():
    reply = await aclient().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    stream = await aclient().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]
    dump("async", [reply, *chunks])


@pytest.mark.vcr
def test_completions_embeddings_models():
    c = client()
    objects = [
        c.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT),
        *c.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, stream=True),
        c.embeddings.create(model="text-embedding-3-small", input=[PROMPT, "second"]),
        c.embeddings.create(model="text-embedding-3-small", input=PROMPT, encoding_format="float"),
        *c.models.list(),
        c.models.retrieve("gpt-4o-mini"),
    ]
    dump("misc", objects)


@pytest.fixture
def anyio_backend():
    return "asyncio"
'''


def recordings(root: Path) -> list[Path]:
    return sorted((root / "cassettes").rglob("*.json"))


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_app=APP)
    monkeypatch.setenv("LLAMA_VCR_TEST_OUT", str(pytester.path / "out"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return pytester


def record(project: pytest.Pytester, server: FakeProviderServer, *args: str) -> pytest.RunResult:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLAMA_VCR_TEST_BASE_URL", server.base_url)
        return project.runpytest("-p", "no:cacheprovider", *args)


def replay(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("-p", "no:cacheprovider", "--record-mode=none", *args)


def outputs(project: pytest.Pytester) -> dict[str, Any]:
    return {p.stem: json.loads(p.read_text()) for p in (project.path / "out").glob("*.json")}


def test_record_once_then_replay_offline_gives_equal_objects(
    project: pytest.Pytester, provider_server: FakeProviderServer, recording_schema: Any
) -> None:
    result = record(project, provider_server, "--record-mode=once")
    result.assert_outcomes(passed=5)
    live = outputs(project)
    files = recordings(project.path)
    # one directory per test, mirroring the module path; one file per request
    dirs = {f.parent.relative_to(project.path).as_posix() for f in files}
    assert dirs == {
        f"cassettes/test_app/{name}"
        for name in (
            "test_chat",
            "test_chat_stream",
            "test_stream_read_partly",
            "test_async_chat_and_stream",
            "test_completions_embeddings_models",
        )
    }
    assert len(files) == len(provider_server.hits) == 11
    # the end-of-session line counts what was touched
    assert "llama-vcr: 0 replayed, 11 written, 0 removed, 0 unused, 0 expired" in result.stdout.lines
    for path in files:
        text = path.read_text()
        assert SECRET not in text and "authorization" not in text.lower()
        document = json.loads(text)
        recording_schema.validate(document)
        assert recording_name(document) == path.name
        assert document["test_id"] == f"test_app.py::{path.parent.name}"

    hits = len(provider_server.hits)
    provider_server.close()  # replay needs no server at all
    shutil_copy = {p: p.read_bytes() for p in files}
    (project.path / "out").rename(project.path / "live-out")
    result = replay(project)
    result.assert_outcomes(passed=5)
    assert "llama-vcr: 11 replayed, 0 written, 0 removed, 0 unused, 0 expired" in result.stdout.lines
    replayed = outputs(project)
    assert replayed.keys() == live.keys()
    assert masked(replayed) == masked(live)
    assert replayed != live  # ids and timestamps were normalised...
    assert replayed["misc"][-1] == live["misc"][-1]  # ...but a Model keeps its id and created
    assert len(provider_server.hits) == hits
    assert {p: p.read_bytes() for p in recordings(project.path)} == shutil_copy  # replay writes nothing


def test_stream_types_and_partial_reads_are_recorded_whole(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    select = ("-k", "chat_stream or read_partly")
    record(project, provider_server, "--record-mode=once", *select).assert_outcomes(passed=2)
    [stream_file] = (project.path / "cassettes/test_app/test_chat_stream").glob("*.json")
    document = json.loads(stream_file.read_text())
    body = document["response"]["body"]
    assert document["response"]["is_streaming"] and document["response"]["sse_done"]
    assert {c["__type__"] for c in body} == {"openai.types.chat.chat_completion_chunk.ChatCompletionChunk"}
    assert body[-1]["__data__"]["usage"]["total_tokens"] > 0
    [partial] = (project.path / "cassettes/test_app/test_stream_read_partly").glob("*.json")
    assert len(json.loads(partial.read_text())["response"]["body"]) > 2
    replay(project, *select).assert_outcomes(passed=2)


def test_a_miss_names_test_request_directory_and_command_without_retry_delay(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    record(project, provider_server, "--record-mode=once", "-k", "test_chat and not stream").assert_outcomes(
        passed=1
    )
    project.makepyfile(
        test_miss="""
import time, openai, pytest
from llama_vcr import RecordingNotFound

@pytest.mark.vcr
def test_other_prompt():
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-x", max_retries=5)
    start = time.monotonic()
    with pytest.raises(RecordingNotFound) as info:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "new"}])
    assert time.monotonic() - start < 1.0, "the SDK retried a replay miss"
    assert not isinstance(info.value, openai.APIConnectionError)
    raise info.value

@pytest.mark.vcr
def test_swallowed():
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-x", max_retries=0)
    try:
        client.models.list()
    except Exception:
        pass
    assert False, "app code swallowed the error"
"""
    )
    result = replay(project, "test_miss.py")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "test_miss.py::test_other_prompt" in out
    assert "POST /v1/chat/completions  model=gpt-4o-mini" in out
    assert str(Path("cassettes") / "test_miss" / "test_other_prompt") in out
    assert "pytest test_miss.py::test_other_prompt --record-mode=once" in out
    # a swallowed miss still shows up in the failing test's report
    assert "llama-vcr replay misses" in out and "GET /v1/models" in out
    # a raised miss is reported once (its traceback, no extra section), and the one-line summary
    # gives the miss's first line instead of the exception's module path
    assert out.count("test:     test_miss.py::test_other_prompt") == 1
    summary = [line for line in out.splitlines() if line.startswith("FAILED test_miss.py::test_other_prompt")]
    assert summary and summary[0].startswith(
        "FAILED test_miss.py::test_other_prompt - llama-vcr: no recording matches"
    ), summary
    assert not (project.path / "cassettes" / "test_miss").exists()


def test_once_refuses_new_requests_for_a_recorded_test_and_new_episodes_adds_them(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    record(project, provider_server, "--record-mode=once", "-k", "test_chat and not stream").assert_outcomes(
        passed=1
    )
    [first] = recordings(project.path)
    before = first.read_bytes()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLAMA_VCR_TEST_PROMPT", "changed")
        result = record(project, provider_server, "--record-mode=once", "-k", "test_chat and not stream")
        result.assert_outcomes(failed=1)
        assert "--record-mode=new_episodes" in result.stdout.str()
        record(
            project, provider_server, "--record-mode=new_episodes", "-k", "test_chat and not stream"
        ).assert_outcomes(passed=1)
    files = recordings(project.path)
    assert len(files) == 2 and first.read_bytes() == before


def test_all_rerecords_in_place_and_rewrite_drops_stale_files(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    select = ("-k", "test_chat and not stream")
    record(project, provider_server, "--record-mode=once", *select).assert_outcomes(passed=1)
    [first] = recordings(project.path)
    provider_server.reset()
    record(project, provider_server, "--record-mode=all", *select).assert_outcomes(passed=1)
    assert len(provider_server.hits) == 1 and recordings(project.path) == [first]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLAMA_VCR_TEST_PROMPT", "changed")
        record(project, provider_server, "--record-mode=rewrite", *select).assert_outcomes(passed=1)
    [second] = recordings(project.path)
    assert second != first and "changed" in second.read_text()


def test_same_request_twice_is_recorded_twice_and_replayed_in_order(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    project.makepyfile(
        test_retry="""
import os, openai, pytest

@pytest.mark.vcr
def test_retried():
    client = openai.OpenAI(base_url=os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1"),
                           api_key="sk-x", max_retries=2)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "again"}])
    assert reply.choices[0].message.content == "Echo: again"
"""
    )
    provider_server.queue_error(
        429, "Rate limit reached", headers={"retry-after-ms": "1"}, error_type="rate_limit_error"
    )
    record(project, provider_server, "--record-mode=once", "test_retry.py").assert_outcomes(passed=1)
    files = recording_files(project.path / "cassettes" / "test_retry" / "test_retried")
    assert [p.name[64:] for p in files] == [".json", "-2.json"]
    documents = [json.loads(p.read_text()) for p in files]
    assert [d["response"]["status"] for d in documents] == [429, 200]
    assert documents[1]["occurrence"] == 2 and recording_name(documents[1]) == files[1].name
    replay(project, "test_retry.py").assert_outcomes(passed=1)


def test_extra_cassettes_named_on_the_marker_still_replay(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    record(project, provider_server, "--record-mode=once", "-k", "test_chat and not stream").assert_outcomes(
        passed=1
    )
    project.makepyfile(
        test_shared="""
import openai, pytest

@pytest.mark.vcr("../test_app/test_chat")
def test_uses_shared():
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-x", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}],
                                           temperature=0.7)
    assert reply.choices[0].message.content == "Echo: hello"
"""
    )
    replay(project, "test_shared.py").assert_outcomes(passed=1)
    assert not (project.path / "cassettes" / "test_shared").exists()


def test_users_vcr_config_wins(project: pytest.Pytester, provider_server: FakeProviderServer) -> None:
    project.makeconftest(
        """
import pytest

@pytest.fixture
def vcr_config(vcr_config):
    return {**vcr_config, "serializer": "yaml"}
"""
    )
    record(project, provider_server, "--record-mode=once", "-k", "test_chat and not stream").assert_outcomes(
        passed=1
    )
    assert (project.path / "cassettes" / "test_app" / "test_chat.yaml").is_file()
    assert recordings(project.path) == []


def test_a_vcr_config_without_serializer_still_writes_llama_vcr_recordings(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    project.makeconftest(
        """
import pytest

@pytest.fixture
def vcr_config():
    return {"filter_headers": ["user-agent"]}
"""
    )
    record(project, provider_server, "--record-mode=once", "-k", "test_chat and not stream").assert_outcomes(
        passed=1
    )
    assert len(recordings(project.path)) == 1
    replay(project, "-k", "test_chat and not stream").assert_outcomes(passed=1)


def test_defaults_do_not_set_a_record_mode() -> None:
    assert "record_mode" not in vcr_config.__wrapped__()  # type: ignore[attr-defined]


def test_a_corrupt_recording_errors_with_its_name_and_is_never_overwritten(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    record(project, provider_server, "--record-mode=once", "-k", "test_chat and not stream").assert_outcomes(
        passed=1
    )
    [path] = recordings(project.path)
    path.write_text('{"test_id": "x", "request": {')
    for mode in ("none", "once", "new_episodes"):
        result = record(project, provider_server, f"--record-mode={mode}", "-k", "test_chat and not stream")
        result.assert_outcomes(errors=1)
        assert f"cannot load recording {path}" in result.stdout.str()
        assert path.read_text() == '{"test_id": "x", "request": {'
