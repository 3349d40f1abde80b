"""Replaying any llama-stack recordings tree through the real SDKs, one file at a time.

Trees: ``LLAMA_VCR_CORPUS`` (one path, or several joined by ``os.pathsep``), else both shared
folders (``../shared/corpus/llama-stack`` and ``../shared/corpus/llama-stack-d1b663294``). Every
``*.json`` file holding a ``request`` and a ``response`` object is a recording; nothing is counted
in advance.

Each file is the only extra cassette of an offline ``record_mode="none"`` VCR (read in place), and
the SDK call is built from the recorded request: ``openai`` for ``/v1/*`` (async for the
responses/agents suites), ``ollama.Client`` for ``/api/*``, ``anthropic`` for ``/v1/messages``,
raw ``httpx`` for other raw-HTTP records (rerank, Gemini ``/interactions`` streams). The client's
base URL is the recorded one (never contacted). An :class:`Outcome` is one of:

- ``replayed``: the SDK gave what the file holds (same chunks, the same object, the union of the
  model lists sharing its hash in llama-stack's order, the SDK error with the recorded status,
  a raw stream's bytes exactly as its lines were);
- ``skipped``: by design, with the reason (a record that is no HTTP exchange: loading it must
  skip it with a ``NotReplayableWarning``, never an error);
- ``failed``: anything else, with what went wrong.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anthropic
import anyio
import httpx
import ollama
import openai
import vcr

from llama_vcr import CODEC, NotReplayableWarning, RecordingError, revive
from llama_vcr._vcrpy import configure_vcr
from llama_vcr.format.envelopes import unwrap
from llama_vcr.format.llama_stack import model_list_group, not_replayable

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TREES = (
    ROOT.parent / "shared" / "corpus" / "llama-stack",
    ROOT.parent / "shared" / "corpus" / "llama-stack-d1b663294",
)
#: Suites whose llama-stack code paths are async: replayed with ``openai.AsyncOpenAI``.
ASYNC_SUITES = frozenset({"responses", "agents"})
API_KEY = "sk-none"
REPLAYED, SKIPPED, FAILED = "replayed equal", "skipped by design", "failed"


@dataclass(frozen=True)
class Outcome:
    kind: str
    detail: str


def trees() -> list[Path]:
    """The recordings trees the corpus tests run over (see the module docstring)."""
    given = os.environ.get("LLAMA_VCR_CORPUS")
    if given:
        return [Path(part) for part in given.split(os.pathsep) if part]
    return list(DEFAULT_TREES)


def recordings(roots: list[Path]) -> list[tuple[Path, str]]:
    """``(tree, relative path)`` of every recording under the trees that exist."""
    found = []
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.json")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(document, dict) and isinstance(document.get("request"), dict):
                found.append((root, path.relative_to(root).as_posix()))
    return found


def suite_of(rel: str) -> str:
    """The llama-stack suite a file belongs to: the directory above its ``recordings/``."""
    parts = rel.split("/")
    index = parts.index("recordings") if "recordings" in parts else 0
    return parts[index - 1] if index > 0 else ""


def recorded_base(url: str, endpoint: str) -> str:
    """The base URL the client used: the url minus its endpoint (``__databricks__`` gets a scheme)."""
    parts = urlsplit(url if urlsplit(url).scheme else "https://" + url)
    path = parts.path[: -len(endpoint)] if endpoint and parts.path.endswith(endpoint) else ""
    return f"{parts.scheme}://{parts.netloc}{path}"


# --- expectations, from the files alone -------------------------------------------------------------


def _model_items(document: dict[str, Any], ollama_tags: bool) -> list[Any]:
    body = document["response"]["body"]
    if ollama_tags:
        return list(unwrap(body)["models"])
    return list(body["data"] if isinstance(body, dict) else body)


def expected_models(path: Path, document: dict[str, Any], key: str) -> list[str]:
    """Model ids (``key``) llama-stack serves for a model list: every ``models-<hash>-*`` file beside
    it unioned, sorted (its ``_combine_model_list_responses``); the file alone otherwise."""
    group = model_list_group(path) or [path]
    ids: set[str] = set()
    for member in group:
        other = document if member == path else json.loads(member.read_text(encoding="utf-8"))
        ids |= {unwrap(item)[key] for item in _model_items(other, key == "model")}
    return sorted(ids)


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """``(event, data)`` of each SSE event in ``text`` (a blank line ends an event)."""
    events, name, data = [], None, []
    for line in text.split("\n"):
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return events


# --- the SDK calls ----------------------------------------------------------------------------------


def _same(got: Any, stored: Any, stream: bool, sdk_class: str | None = None) -> Outcome:
    if stream:
        chunks = list(got)
        count = len(stored) if isinstance(stored, list) else 0
        assert [c.model_dump() for c in chunks] == [c.model_dump() for c in revive(stored)], (
            f"{len(chunks)} chunks replayed, {count} stored"
        )
        return Outcome(REPLAYED, f"{len(chunks)} chunks equal")
    if isinstance(stored, dict) and "__type__" not in stored and sdk_class is not None:
        stored = {"__type__": sdk_class, "__data__": stored}
    assert got.model_dump() == revive(stored).model_dump(), f"the replayed {type(got).__name__} differs"
    return Outcome(REPLAYED, f"{type(got).__name__} equal")


def _error(exc: Exception, response: dict[str, Any]) -> Outcome:
    error = response.get("exception_data") or {}
    assert response.get("is_exception"), f"unexpected {type(exc).__name__}: {exc}"
    assert getattr(exc, "status_code", None) == error["status_code"]
    assert type(exc).__name__ == error["type"]
    assert error["body"]["message"] in str(exc)
    return Outcome(REPLAYED, f"{type(exc).__name__} {error['status_code']} raised")


def _openai_call(client: Any, endpoint: str, body: dict[str, Any]) -> Any:
    if endpoint.endswith("/models"):
        return client.models.list(**body)
    if "messages" in body:  # (a chat request llama-stack once filed under /v1/completions)
        return client.chat.completions.create(**body)
    if endpoint.endswith("/completions"):
        return client.completions.create(**body)
    if endpoint.endswith("/embeddings"):
        return client.embeddings.create(**body)
    if endpoint.endswith("/responses"):
        return client.responses.create(**body)
    raise AssertionError(f"no openai SDK call for {endpoint}")


def _replay_openai(path: Path, document: dict[str, Any], endpoint: str, use_async: bool) -> Outcome:
    request, response = document["request"], document["response"]
    body, models = dict(request["body"] or {}), endpoint.endswith("/models")
    stream = bool(body.get("stream"))
    base_url = recorded_base(request["url"], endpoint)

    def run_sync() -> Any:
        with openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0) as client:
            got = _openai_call(client, endpoint, body)
            return list(got) if stream or models else got

    async def run_async() -> Any:
        async with openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0) as client:
            if models:
                return [m async for m in client.models.list(**body)]
            got = await _openai_call(client, endpoint, body)
            return [chunk async for chunk in got] if stream else got

    try:
        got = anyio.run(run_async) if use_async else run_sync()
    except openai.APIStatusError as exc:
        return _error(exc, response)
    assert not response.get("is_exception"), "the recorded provider error was not raised"
    if models:
        ids, wanted = [model.id for model in got], expected_models(path, document, "id")
        assert ids == wanted, (
            f"model ids {ids[:4]}… ({len(ids)}), llama-stack serves {wanted[:4]}… ({len(wanted)})"
        )
        return Outcome(REPLAYED, f"{len(ids)} model ids equal (the union of their group, sorted)")
    return _same(got, response["body"], response["is_streaming"])


def _replay_ollama(path: Path, document: dict[str, Any], endpoint: str) -> Outcome:
    request, response = document["request"], document["response"]
    body = request.get("body") or {}
    calls: dict[str, Callable[[ollama.Client], Any]] = {
        "/api/ps": lambda client: client.ps(),
        "/api/tags": lambda client: client.list(),
        "/api/generate": lambda client: client.generate(**body),
        "/api/chat": lambda client: client.chat(**body),
        "/api/embed": lambda client: client.embed(**body),
        "/api/embeddings": lambda client: (
            client.embed(**body) if "input" in body else client.embeddings(**body)
        ),
    }
    assert endpoint in calls, f"no ollama SDK call for {endpoint}"
    with ollama.Client(host=recorded_base(request["url"], endpoint)) as client:
        got = calls[endpoint](client)
        if response["is_streaming"]:
            got = list(got)
    if endpoint == "/api/tags":
        names, wanted = [model.model for model in got.models], expected_models(path, document, "model")
        assert names == wanted, f"models {names[:4]}… ({len(names)}), llama-stack serves {wanted[:4]}…"
        return Outcome(REPLAYED, f"{len(names)} models equal")
    return _same(got, response["body"], response["is_streaming"])


def _replay_anthropic(document: dict[str, Any], body: dict[str, Any]) -> Outcome:
    request, response = document["request"], document["response"]
    base_url = recorded_base(request["url"], "/v1/messages")  # the SDK appends /v1/messages
    with anthropic.Anthropic(base_url=base_url, api_key=API_KEY, max_retries=0) as client:
        got = client.messages.create(**body)
        if not body.get("stream"):
            return _same(got, response["body"], False, "anthropic.types.message.Message")
        events = [event.to_dict() for event in got]
    stored = response["body"]
    text = (
        "\n".join(stored) + "\n"
        if isinstance(stored, list) and all(isinstance(s, str) for s in stored)
        else None
    )
    assert text is not None, "a stream stored as SSE lines was expected"
    wanted = [json.loads(data) for name, data in sse_events(text) if name not in (None, "ping", "error")]
    assert events == wanted, f"{len(events)} Anthropic events replayed, {len(wanted)} stored"
    return Outcome(REPLAYED, f"{len(events)} Anthropic events equal")


def _replay_raw(document: dict[str, Any], body: Any) -> Outcome:
    request, response = document["request"], document["response"]
    with httpx.Client() as http:
        reply = http.request(request["method"], request["url"], json=body)
    stored = response["body"]
    if response.get("is_streaming"):
        assert reply.text == "".join(f"{line}\n" for line in stored), (
            "the stream is not the lines as they are"
        )
        events = sse_events(reply.text)
        assert events == sse_events("\n".join(stored) + "\n")
        return Outcome(REPLAYED, f"raw SSE stream equal ({len(events)} events)")
    assert reply.status_code == response.get("status", 200), f"HTTP {reply.status_code}"
    assert reply.json() == stored, "the JSON body differs"
    return Outcome(REPLAYED, f"raw JSON equal (HTTP {reply.status_code})")


def _send(path: Path, document: dict[str, Any], use_async: bool) -> Outcome:
    request = document["request"]
    raw = "payload" in request
    body = request["payload"] if raw else request.get("body")
    endpoint = (
        urlsplit(request["url"]).path if raw else request.get("endpoint") or urlsplit(request["url"]).path
    )
    if endpoint.startswith("/api/"):
        return _replay_ollama(path, document, endpoint)
    if endpoint.endswith("/v1/messages") and isinstance(body, dict) and "max_tokens" in body:
        return _replay_anthropic(document, body)
    if raw:
        return _replay_raw(document, body)
    if endpoint.endswith(("/chat/completions", "/completions", "/embeddings", "/models", "/responses")):
        return _replay_openai(path, document, endpoint, use_async)
    return _replay_raw(document, body)


def _loads_skipping(path: Path, workdir: Path) -> str | None:
    """Load a not-replayable file as a test would: None if it was skipped with the warning."""
    recorder = offline_vcr(path, "skip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with recorder.use_cassette(str(workdir / "cassette")):
                pass
        except RecordingError as exc:
            return f"loading raised {exc}"
        except Exception as exc:  # (vcrpy: nothing to load is fine, the file was skipped)
            if type(exc).__name__ != "CassetteNotFoundError":
                return f"loading raised {type(exc).__name__}: {exc}"
    if not any(isinstance(w.message, NotReplayableWarning) and str(path) in str(w.message) for w in caught):
        return "no NotReplayableWarning was given"
    return None


def offline_vcr(path: Path, rel: str) -> vcr.VCR:
    recorder = vcr.VCR(record_mode="none")
    configure_vcr(recorder, CODEC, f"tests/corpus/test_corpus_replay.py::{rel}")
    recorder.persister.extra_paths = [str(path)]
    return recorder


def replay(path: Path, rel: str, workdir: Path) -> Outcome:
    """Replay one recording (read in place) through its SDK with no network; see the module doc."""
    document = json.loads(path.read_text(encoding="utf-8"))
    reason = not_replayable(document)
    if reason is not None:
        problem = _loads_skipping(path, workdir)
        return Outcome(FAILED, problem) if problem else Outcome(SKIPPED, reason)
    cassette = workdir / "cassette"
    try:
        with offline_vcr(path, rel).use_cassette(str(cassette)):
            outcome = _send(path, document, suite_of(rel) in ASYNC_SUITES)
    except AssertionError as exc:
        outcome = Outcome(FAILED, f"replayed, but not equal: {str(exc)[:300]}")
    except Exception as exc:
        outcome = Outcome(FAILED, f"{type(exc).__name__}: {str(exc)[:300]}")
    if cassette.exists():
        outcome = Outcome(FAILED, "replay wrote a recording")
    return outcome


def table(outcomes: dict[str, Outcome]) -> Iterator[str]:
    """The per-kind counts, then every file that was not replayed and why."""
    kinds = [REPLAYED, SKIPPED, FAILED]
    yield f"llama-stack corpus replay: {len(outcomes)} files"
    for kind in kinds:
        yield f"  {kind:<20}{sum(1 for o in outcomes.values() if o.kind == kind):>6}"
    for rel, outcome in outcomes.items():
        if outcome.kind != REPLAYED:
            yield f"  {outcome.kind}: {rel}: {outcome.detail[:200]}"
