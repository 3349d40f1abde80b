"""Files llama-stack's own recorder wrote, read as llama-vcr recordings.

llama-stack records at the SDK level, so a few of its files describe the HTTP exchange loosely;
:func:`from_llama_stack` rewrites those in memory (never on disk) into what went over the wire.
The layouts, from llama-stack's recorder (``src/llama_stack/testing/api_recorder.py``, earlier
``inference_recorder.py``; ``src/ogx/testing/api_recorder.py`` since the rename to ogx):

- SDK calls ``{"method", "url", "headers", "body", "endpoint", "model"[, "provider_metadata"]}``:
  ``body`` is the SDK method's keyword arguments (``extra_body`` merged into the JSON the SDK
  sends, ``extra_query`` into the URL's query), ``url`` the client's base URL + ``endpoint``;
  responses ``{"body", "is_streaming"}``, errors ``{"is_exception", "exception_data"}``.
- raw HTTP calls ``{"test_id", "url", "method", "payload"}`` (rerank, ``/v1/messages`` and
  ``/interactions`` passthrough): responses ``{"status", "body"}``, or for a stream the raw SSE
  text lines (``httpx.Response.aiter_lines()``), replayed as they are.
- model lists ``models-<hash>-<digest8>.json``: llama-stack answers every list call with the union
  of all files sharing ``<hash>`` (``_combine_model_list_responses``: by ``id``, by ``model`` for
  Ollama's ``/api/tags``, sorted); :func:`merge_model_lists` does the same.
- records that are no HTTP exchange (:func:`not_replayable`): ``tool_invoke`` calls
  ``{"provider", "tool_name", "kwargs"}``, file processor calls, google-genai SDK calls
  (``vertexai://…``). llama-vcr cannot replay or re-record them; they are skipped with a note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .envelopes import DATA_KEY, TYPE_KEY

#: Endpoints llama-stack recorded as ``POST {}`` although the SDK sends ``GET`` with no body.
_LISTINGS = ("/models", "/api/tags", "/api/ps")
#: A llama-stack model list file: ``models-<request hash>-<8 hex of the model ids>.json``.
MODELS_FILE = re.compile(r"^models-([0-9a-f]{12}|[0-9a-f]{64})-[0-9a-f]{8}\.json$")
#: What a raw SSE stream replays with (the recorder's replay served ``text/event-stream``).
_SSE_TYPE = "text/event-stream; charset=utf-8"


class NotReplayableError(ValueError):
    """A recording of something that is not an HTTP exchange (e.g. a tool runtime call)."""


def is_llama_stack(document: dict[str, Any]) -> bool:
    """Whether llama-stack's recorder wrote ``document`` (llama-vcr's files have ``response.status``
    and an SDK request layout)."""
    request, response = document["request"], document["response"]
    return "status" not in response or "payload" in request or "url" not in request


#: Keys of llama-stack's records of calls inside the stack (``tool_invoke``, file processors).
_RUNTIME_KEYS = frozenset({"provider", "provider_name", "tool_name", "processor", "file_id"})
#: URL schemes of SDK calls llama-stack records that are no HTTP (google-genai: ``vertexai://``).
_SDK_SCHEMES = {"vertexai": "google-genai"}


def not_replayable(document: dict[str, Any]) -> str | None:
    """Why ``document`` is a llama-stack record of something that is no HTTP exchange (llama-vcr
    neither replays nor re-records it), or None: ``"not an HTTP recording: a llama-stack tool
    runtime call (tavily.web_search)"``, ``… a google-genai SDK call (vertexai:///…)``.

    Only llama-stack's own layouts are recognised; any other request without an ``http(s)`` URL is
    a malformed file (``from_llama_stack`` refuses it, and loading it is an error).
    """
    request = document["request"]
    if "url" not in request and "method" not in request and _RUNTIME_KEYS & request.keys():
        provider = request.get("provider") or request.get("provider_name") or request.get("processor")
        if "tool_name" in request:
            return (
                f"not an HTTP recording: a llama-stack tool runtime call ({provider}.{request['tool_name']})"
            )
        return f"not an HTTP recording: a llama-stack file processor call ({provider})"
    url = request.get("url")
    scheme = urlsplit(url).scheme if isinstance(url, str) else ""
    if scheme in _SDK_SCHEMES:
        return f"not an HTTP recording: a {_SDK_SCHEMES[scheme]} SDK call ({url})"
    return None


def _not_http(request: dict[str, Any]) -> str | None:
    """Why a request that is no llama-stack runtime or SDK record cannot be read as HTTP, or None."""
    if "url" not in request or "method" not in request:
        return "not an HTTP recording: the request has no url or method"
    url = str(request["url"])
    parts = urlsplit(url)
    if not parts.scheme and not url.startswith("/"):  # a host placeholder: "__databricks__/..."
        return None
    if parts.scheme not in ("http", "https"):
        return f"not an HTTP recording: a {parts.scheme or 'non-HTTP'} SDK call ({url})"
    return None


def _wire_path(url_path: str, recorded_endpoint: str | None, endpoint: str) -> str:
    """The path that went over the wire. llama-stack built ``url`` as the client's base URL + an
    ``endpoint`` starting with ``/v1`` (``…/inference/v1/v1/chat/completions``), while the SDK sent
    base URL + the path after ``/v1``: keep the base's prefix, drop the endpoint's ``/v1``."""
    if not recorded_endpoint or not url_path.endswith(recorded_endpoint):
        return url_path if endpoint == recorded_endpoint else endpoint
    prefix = url_path[: len(url_path) - len(recorded_endpoint)]
    return prefix + (endpoint.removeprefix("/v1") if endpoint.startswith("/v1/") else endpoint)


def _sdk_kwargs(body: Any, query: str) -> tuple[Any, str]:
    """An SDK call's keyword arguments as the request carries them: ``extra_body`` merged into the
    body, ``extra_query`` into the URL's query (``(body, query)``)."""
    if not isinstance(body, dict) or not {"extra_body", "extra_query"} & body.keys():
        return body, query
    extra_query = body.get("extra_query") or {}
    rest = {k: v for k, v in body.items() if k not in ("extra_body", "extra_query")}
    merged = rest | (body.get("extra_body") or {})
    if isinstance(extra_query, dict) and extra_query:
        query = urlencode([*parse_qsl(query, keep_blank_values=True), *extra_query.items()])
    return merged, query


def _raw_stream(response: dict[str, Any]) -> dict[str, Any]:
    """A raw-HTTP stream (SSE text lines, as ``aiter_lines()`` gave them) as the bytes that came
    over the wire: every line ended by a newline, nothing re-quoted, no ``[DONE]`` added."""
    lines = response["body"]
    text = "".join(f"{line}\n" for line in lines)
    headers = {"content-type": _SSE_TYPE, **(response.get("headers") or {})}
    return {**response, "body": {"__text__": text}, "is_streaming": False, "headers": headers}


def from_llama_stack(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as llama-vcr reads it; files llama-vcr wrote (with ``response.status``) pass as is.

    Raises :class:`NotReplayableError` for a record that is no HTTP exchange (:func:`not_replayable`).
    """
    request, response = document["request"], document["response"]
    if "status" in response and "payload" not in request:
        return document
    reason = not_replayable(document) or _not_http(request)
    if reason is not None:
        raise NotReplayableError(reason)
    parts = urlsplit(request["url"])
    if not parts.scheme and not request["url"].startswith("/"):  # a host placeholder: "__databricks__/..."
        parts = urlsplit("https://" + request["url"])
    request = {k: v for k, v in request.items() if k not in ("test_id", "provider_metadata")}
    response = dict(response)
    raw_http = "payload" in request
    if raw_http:  # raw httpx/aiohttp recordings: {test_id, url, method, payload}
        request["body"] = request.pop("payload")
    request.setdefault("headers", {})
    body, query = _sdk_kwargs(request.get("body"), parts.query)
    request["body"] = body
    endpoint = request.get("endpoint") or parts.path
    if (
        endpoint.endswith("/completions")
        and not endpoint.endswith("/chat/completions")
        and isinstance(body, dict)
        and "messages" in body
    ):
        endpoint = endpoint[: -len("/completions")] + "/chat/completions"  # llama-stack's pre-#3013 files
    if endpoint == "/api/embeddings" and isinstance(body, dict) and "input" in body:
        endpoint = "/api/embed"  # recorded under the legacy path, sent by ollama's embed()
    path = _wire_path(parts.path, request.get("endpoint"), endpoint)
    request["url"] = urlunsplit((parts.scheme, parts.netloc, path, query, ""))
    request["endpoint"] = endpoint
    request.setdefault("model", body.get("model") if isinstance(body, dict) else None)
    if request["method"] == "POST" and body in ({}, None) and endpoint.endswith(_LISTINGS) and not raw_http:
        request["method"], request["body"] = "GET", None
    body = response.get("body")
    if response.get("is_exception"):
        error = response.get("exception_data") or {}
        response["status"] = int(error.get("status_code") or 500)
        detail = error.get("body") or {"message": response.get("exception_message") or error.get("message")}
        response["body"] = {"error": detail}
    elif raw_http and response.get("is_streaming") and isinstance(body, list):
        if all(isinstance(line, str) for line in body):
            response = _raw_stream(response)
    elif not response.get("is_streaming") and isinstance(body, list) and all(TYPE_KEY in b for b in body):
        response["body"] = {"object": "list", "data": body}  # model lists were stored as bare lists
    elif isinstance(body, dict) and DATA_KEY not in body and "status" in response:
        response["headers"] = {"content-type": "application/json", **response.get("headers", {})}
    return {**document, "request": request, "response": response}


# --- model lists ------------------------------------------------------------------------------------


def model_list_group(path: Path) -> list[Path]:
    """The files llama-stack would union with ``path`` (a ``models-<hash>-*.json`` file): every
    ``models-<hash>-*.json`` beside it, sorted by name; ``[]`` for any other file."""
    match = MODELS_FILE.match(path.name)
    if match is None:
        return []
    prefix = f"models-{match.group(1)}-"
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(prefix) and MODELS_FILE.match(p.name))


def _model_key(item: Any, ollama: bool) -> str | None:
    data = item.get(DATA_KEY, item) if isinstance(item, dict) else None
    key = data.get("model" if ollama else "id") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


def merge_model_lists(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The first of ``documents`` (llama-stack model lists of one request hash) with the union of
    their models as its body, as llama-stack serves it on every call: keyed by ``id`` (Ollama
    ``/api/tags``: ``model``), a later file's entry replacing an earlier one, sorted by key.

    A body that is not a model list (or an error) leaves ``documents[0]`` as it is.
    """
    first = documents[0]
    seen: dict[str, Any] = {}
    ollama = first["request"].get("endpoint") == "/api/tags"
    for document in documents:
        body = document["response"].get("body")
        if ollama and isinstance(body, dict):
            items = (
                body.get(DATA_KEY, body).get("models") if isinstance(body.get(DATA_KEY, body), dict) else None
            )
        else:
            items = body["data"] if isinstance(body, dict) and isinstance(body.get("data"), list) else body
        if not isinstance(items, list) or document["response"].get("is_exception"):
            return first
        for item in items:
            key = _model_key(item, ollama)
            if key is None:
                return first
            seen[key] = item
    merged = [seen[key] for key in sorted(seen)]
    body = first["response"]["body"]
    if ollama:
        envelope = DATA_KEY in body
        data = {**(body[DATA_KEY] if envelope else body), "models": merged}
        merged_body: Any = {**body, DATA_KEY: data} if envelope else data
    elif isinstance(body, dict):
        merged_body = {**body, "data": merged}
    else:
        merged_body = merged
    return {**first, "response": {**first["response"], "body": merged_body}}
