"""Every file of the real llama-stack corpus replays through the real SDK, or fails with a clear reason.

Each file is the only (extra) cassette of an offline ``record_mode="none"`` VCR, and the SDK call is
built from the recorded request body: ``openai`` (sync, or async for the responses/agents suites)
for ``/v1/*`` and ``/chat/completions``, ``ollama.Client`` for ``/api/*``, ``anthropic`` for
``/v1/messages``, raw ``httpx`` for the rest (``/rerank``). The client's base URL is the one
llama-stack used (the recorded ``url`` minus its ``endpoint``); it is never contacted.

A replay must give what the file holds: the same chunks, the same object (``model_dump()`` equal to
the revived ``__data__``), the same set of model ids, or the SDK error with the recorded status.
Files that are not HTTP exchanges must fail to load with a ``RecordingError`` naming the file and
the reason. Files that fail because of a llama-vcr defect are ``xfail(strict=True)`` with the
diagnosis (``CORE_ISSUES``). ``pytest tests/test_corpus_replay.py -n0 -s`` prints the outcome table.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anthropic
import anyio
import httpx
import ollama
import openai
import pytest
import vcr

from conftest import CORPUS_DIR
from llama_vcr import CODEC, RecordingError, RecordingNotFound, revive
from llama_vcr._vcrpy import configure_vcr
from llama_vcr.format.envelopes import unwrap

REPLAYED_STREAM = "replayed-stream"
REPLAYED_OBJECT = "replayed-object"
REPLAYED_ERROR = "replayed-error"
NOT_REPLAYABLE = "not-replayable-with-reason"
KINDS = (REPLAYED_STREAM, REPLAYED_OBJECT, REPLAYED_ERROR, NOT_REPLAYABLE)
REPLAYED = (REPLAYED_STREAM, REPLAYED_OBJECT, REPLAYED_ERROR)

CORPUS_SIZE = 50
MIN_REPLAYED = 40
#: Suites whose llama-stack code paths are async: replayed with ``openai.AsyncOpenAI``.
ASYNC_SUITES = frozenset({"responses", "agents"})
API_KEY = "sk-none"

FILES = (
    sorted(path.relative_to(CORPUS_DIR).as_posix() for path in CORPUS_DIR.rglob("*.json"))
    if CORPUS_DIR.is_dir()
    else []
)

# --- llama-vcr defects these files expose: each file's test is xfail(strict) with its diagnosis ---
# (the six found while writing this test are fixed in _compat.from_llama_stack: base-URL prefixes,
# extra_body, tool_invoke provider names, non-HTTP SDK calls, chat filed under /completions,
# embed() filed under /api/embeddings)
CORE_ISSUES: dict[str, str] = {}


@dataclass(frozen=True)
class Outcome:
    """What replaying one file gave: a kind (``KINDS``), a one-line detail, and the error if any."""

    kind: str
    detail: str
    error: BaseException | None = None


# --- what a file should do --------------------------------------------------------------------------


def suite_of(rel: str) -> str:
    """The llama-stack test suite directory of a corpus file (``later-<commit>/`` skipped)."""
    parts = rel.split("/")
    return parts[1] if parts[0].startswith("later-") else parts[0]


def is_http(request: dict[str, Any]) -> bool:
    """Whether a request is an HTTP exchange (tool_invoke files have no url; genai's is vertexai:)."""
    return "url" in request and urlsplit(request["url"]).scheme in ("http", "https", "")


def expected_kind(document: dict[str, Any]) -> str:
    request, response = document["request"], document["response"]
    if not is_http(request):
        return NOT_REPLAYABLE
    if response.get("is_exception") or int(response.get("status", 200)) >= 400:
        return REPLAYED_ERROR
    return REPLAYED_STREAM if response["is_streaming"] else REPLAYED_OBJECT


def expected_reasons(document: dict[str, Any]) -> list[str]:
    """The texts a load error must contain for a file that is not an HTTP exchange."""
    request = document["request"]
    if "url" not in request:
        provider = request.get("provider") or request.get("provider_name")
        return [f"not an HTTP recording: a llama-stack tool runtime call ({provider}.{request['tool_name']})"]
    return ["not an HTTP recording", request["url"]]


# --- building the SDK call from the recorded request ------------------------------------------------


def recorded_base(url: str, endpoint: str) -> str:
    """The base URL the recording's client used: the url minus its endpoint (llama-stack: base + endpoint).

    llama-stack's Databricks files replace the workspace host by ``__databricks__`` (no scheme).
    """
    parts = urlsplit(url if urlsplit(url).scheme else "https://" + url)
    path = parts.path[: -len(endpoint)] if endpoint and parts.path.endswith(endpoint) else ""
    return f"{parts.scheme}://{parts.netloc}{path}"


def _stored_items(stored: Any) -> list[Any]:
    """A stored model list: llama-stack's bare list of envelopes, or llama-vcr's page."""
    return stored["data"] if isinstance(stored, dict) else stored


def _check_same(got: Any, stored: Any, stream: bool, sdk_class: str | None = None) -> Outcome:
    if stream:
        chunks = list(got)
        assert [chunk.model_dump() for chunk in chunks] == [chunk.model_dump() for chunk in revive(stored)]
        return Outcome(REPLAYED_STREAM, f"{len(chunks)} chunks equal")
    if isinstance(stored, dict) and "__type__" not in stored and sdk_class is not None:
        stored = {"__type__": sdk_class, "__data__": stored}  # a raw body: revive it as the SDK's class
    assert got.model_dump() == revive(stored).model_dump()
    return Outcome(REPLAYED_OBJECT, f"{type(got).__name__} equal")


def _check_error(exc: openai.APIStatusError, response: dict[str, Any]) -> Outcome:
    error = response.get("exception_data") or {}
    assert response.get("is_exception"), f"unexpected {type(exc).__name__}: {exc}"
    assert exc.status_code == error["status_code"]
    assert type(exc).__name__ == error["type"]
    assert error["body"]["message"] in str(exc)
    return Outcome(REPLAYED_ERROR, f"{type(exc).__name__} {exc.status_code}", exc)


def _openai_call(client: Any, endpoint: str, body: dict[str, Any]) -> Any:
    if "messages" in body:  # also e29300494763: a chat request llama-stack filed under /v1/completions
        return client.chat.completions.create(**body)
    if endpoint.endswith("/completions"):
        return client.completions.create(**body)
    if endpoint.endswith("/embeddings"):
        return client.embeddings.create(**body)
    raise AssertionError(f"no openai SDK call for {endpoint}")


def _replay_openai(document: dict[str, Any], endpoint: str, use_async: bool) -> Outcome:
    request, response = document["request"], document["response"]
    body = request["body"] or {}
    base_url = recorded_base(request["url"], endpoint)
    models = endpoint.endswith("/models")
    stream = bool(body.get("stream"))

    def run_sync() -> Any:
        with openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0) as client:
            if models:
                return list(client.models.list())
            got = _openai_call(client, endpoint, body)
            return list(got) if stream else got

    async def run_async() -> Any:
        async with openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0) as client:
            if models:
                return [model async for model in client.models.list()]
            got = await _openai_call(client, endpoint, body)
            return [chunk async for chunk in got] if stream else got

    try:
        got = anyio.run(run_async) if use_async else run_sync()
    except openai.APIStatusError as exc:
        return _check_error(exc, response)
    assert not response.get("is_exception"), "the recorded provider error was not raised"
    if models:
        ids = {model.id for model in got}
        assert ids == {unwrap(item)["id"] for item in _stored_items(response["body"])}
        return Outcome(REPLAYED_OBJECT, f"{len(ids)} model ids equal")
    return _check_same(got, response["body"], response["is_streaming"])


def _replay_ollama(document: dict[str, Any], endpoint: str) -> Outcome:
    request, response = document["request"], document["response"]
    body = request.get("body") or {}
    calls: dict[str, Callable[[ollama.Client], Any]] = {
        "/api/ps": lambda client: client.ps(),
        "/api/tags": lambda client: client.list(),
        "/api/generate": lambda client: client.generate(**body),
        "/api/chat": lambda client: client.chat(**body),
        "/api/embed": lambda client: client.embed(**body),
        # the SDK call that sends `input` is embed(); embeddings() sends `prompt`
        "/api/embeddings": lambda client: (
            client.embed(**body) if "input" in body else client.embeddings(**body)
        ),
    }
    assert endpoint in calls, f"no ollama SDK call for {endpoint}"
    with ollama.Client(host=recorded_base(request["url"], endpoint)) as client:
        got = calls[endpoint](client)
        if response["is_streaming"]:
            got = list(got)
    return _check_same(got, response["body"], response["is_streaming"])


def _replay_anthropic(document: dict[str, Any]) -> Outcome:
    request, response = document["request"], document["response"]
    base_url = recorded_base(request["url"], "/v1/messages")  # the SDK appends /v1/messages
    with anthropic.Anthropic(base_url=base_url, api_key=API_KEY, max_retries=0) as client:
        got = client.messages.create(**request["payload"])
    return _check_same(got, response["body"], False, "anthropic.types.message.Message")


def _replay_raw(document: dict[str, Any]) -> Outcome:
    request, response = document["request"], document["response"]
    body = request.get("payload", request.get("body"))
    with httpx.Client() as http:
        reply = http.request(request["method"], request["url"], json=body)
    assert reply.status_code == response.get("status", 200)
    assert reply.json() == response["body"]
    return Outcome(REPLAYED_OBJECT, f"raw JSON equal (HTTP {reply.status_code})")


def _send(document: dict[str, Any], use_async: bool) -> Outcome:
    request = document["request"]
    if not is_http(request):
        return Outcome(NOT_REPLAYABLE, f"loaded without error, but {request['url']} is not an HTTP URL")
    endpoint = request.get("endpoint") or urlsplit(request["url"]).path
    body = request.get("body", request.get("payload"))
    if endpoint.startswith("/api/"):
        return _replay_ollama(document, endpoint)
    if endpoint.endswith("/v1/messages") and isinstance(body, dict) and "max_tokens" in body:
        return _replay_anthropic(document)
    if endpoint.endswith(("/chat/completions", "/completions", "/embeddings", "/models")):
        return _replay_openai(document, endpoint, use_async)
    return _replay_raw(document)


def _miss_in(exc: BaseException) -> RecordingNotFound | None:
    """The replay miss behind ``exc`` (an SDK may wrap it, e.g. anthropic's APIConnectionError)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, RecordingNotFound):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _miss_summary(miss: RecordingNotFound) -> str:
    """A miss in one line: that it missed, and how the request differs from the closest recording."""
    lines = str(miss).splitlines()
    sent = [
        line.split(":", 1)[1].split("  model=")[0].strip() for line in lines if line.startswith("  request:")
    ]
    diff = [line.strip() for line in lines if line.startswith("    ") and not line.startswith("    pytest")]
    return "; ".join([f"replay miss: sent {' '.join(sent)}", *diff]) if diff else lines[0]


def replay(path: Path, rel: str, workdir: Path) -> Outcome:
    """Replay one corpus file (read in place) through its SDK with no network; see the module doc."""
    document = json.loads(path.read_text(encoding="utf-8"))
    recorder = vcr.VCR(record_mode="none")
    configure_vcr(recorder, CODEC, f"tests/test_corpus_replay.py::{rel}")
    recorder.persister.extra_paths = [str(path)]
    cassette = workdir / "cassette"
    try:
        with recorder.use_cassette(str(cassette)):
            outcome = _send(document, suite_of(rel) in ASYNC_SUITES)
    except RecordingError as exc:  # failed to load
        outcome = Outcome(NOT_REPLAYABLE, exc.problem, exc)
    except Exception as exc:
        miss = _miss_in(exc)
        if miss is None:
            raise
        outcome = Outcome(NOT_REPLAYABLE, _miss_summary(miss), miss)
    assert not cassette.exists(), "replay wrote a recording"
    return outcome


# --- the tests ---------------------------------------------------------------------------------------


def _param(rel: str) -> Any:
    if rel in CORE_ISSUES:
        mark = pytest.mark.xfail(reason=CORE_ISSUES[rel], raises=AssertionError, strict=True)
        return pytest.param(rel, marks=mark, id=rel)
    return pytest.param(rel, id=rel)


@pytest.mark.parametrize("rel", [_param(rel) for rel in FILES])
def test_corpus_file_replays_through_its_sdk_or_says_why(rel: str, corpus_dir: Path, tmp_path: Path) -> None:
    path = corpus_dir / rel
    document = json.loads(path.read_text(encoding="utf-8"))
    outcome = replay(path, rel, tmp_path)
    expected = expected_kind(document)
    if expected != NOT_REPLAYABLE:
        assert outcome.kind == expected, f"{outcome.detail}\n{outcome.error or ''}"
        return
    assert isinstance(outcome.error, RecordingError), f"expected a load error, got: {outcome.detail}"
    message = str(outcome.error)
    assert str(path) in message
    for reason in expected_reasons(document):
        assert reason in message


_OUTCOMES: dict[str, Outcome] = {}


def corpus_outcomes(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every corpus file's outcome (computed once per process; the files are read in place)."""
    for rel in FILES:
        if rel not in _OUTCOMES:
            _OUTCOMES[rel] = replay(corpus_dir / rel, rel, tmp_path_factory.mktemp("replay"))
    return _OUTCOMES


def outcome_table(outcomes: dict[str, Outcome]) -> str:
    counts = Counter(outcome.kind for outcome in outcomes.values())
    issues = [rel for rel in outcomes if rel in CORE_ISSUES]
    replayed = sum(counts[kind] for kind in REPLAYED)
    lines = [f"llama-stack corpus replay: {len(outcomes)} files", f"  {'kind':<30}files"]
    lines += [f"  {kind:<30}{counts[kind]:>5}" for kind in KINDS]
    lines += [
        f"  {'total':<30}{sum(counts.values()):>5}",
        f"  {'replayed':<30}{replayed:>5}   (target >= {MIN_REPLAYED})",
        f"  {'files hit by llama-vcr issues':<30}{len(issues):>5}   (xfail: CORE_ISSUES)",
        "  not replayed:",
    ]
    lines += [
        f"    {rel}: {'[issue] ' if rel in CORE_ISSUES else ''}{outcome.detail[:150]}"
        for rel, outcome in outcomes.items()
        if outcome.kind == NOT_REPLAYABLE
    ]
    return "\n".join(lines)


def test_corpus_outcome_counts(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outcomes = corpus_outcomes(corpus_dir, tmp_path_factory)
    print("\n" + outcome_table(outcomes))
    counts = Counter(outcome.kind for outcome in outcomes.values())
    assert set(counts) <= set(KINDS)
    assert sum(counts.values()) == len(FILES) == CORPUS_SIZE
    # every file that does not replay says why: llama-vcr's load error or replay miss (bar known issues)
    silent = [
        rel
        for rel, outcome in outcomes.items()
        if outcome.kind == NOT_REPLAYABLE and outcome.error is None and rel not in CORE_ISSUES
    ]
    assert not silent


def test_at_least_40_corpus_files_replay(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outcomes = corpus_outcomes(corpus_dir, tmp_path_factory)
    replayed = sum(1 for outcome in outcomes.values() if outcome.kind in REPLAYED)
    assert replayed >= MIN_REPLAYED, outcome_table(outcomes)
