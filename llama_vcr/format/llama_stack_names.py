"""The names llama-stack's recorder gives its files, re-derived from their content.

llama-stack names a recording by a SHA-256 of the request, and its recipe changed over time; a
file is named right if *any* recipe of the recorder that could have written it re-derives its
name. The recipes, from llama-stack's ``src/llama_stack/testing/api_recorder.py`` (earlier
``inference_recorder.py``; now ``src/ogx/testing/api_recorder.py`` in ogx-ai/ogx):

``documented``
    ``sha256(json.dumps({"method", "endpoint": urlparse(url).path, "body": B, "test_id"},
    sort_keys=True))`` where ``B`` is the body with every float rounded to 5 places and every
    decimal of 4+ fractional digits inside a string rewritten as ``%.5f``
    (``_normalize_body_for_hash``); the one ``docs/recording-format.md`` documents.
``current``
    the same, plus the current recorder's rules: ``project_id`` removed from the top-level
    ``extra_body`` / ``extra_query`` (WatsonX), a top-level ``stream_options`` left out when the
    URL's host contains ``bedrock``, file_search results in strings replaced by placeholders
    (``score: __NORMALIZED__``, ``attributes: {…}`` removed, ``document_id: __NORMALIZED__``,
    ``<|__NORMALIZED__|>``) before the rounding, and no ``test_id`` for a model list (a path that
    is ``/api/tags`` or ends with ``/models``).
``current, exact model-list paths``
    the recorder of early 2026: the current rules, but no ``test_id`` only for exactly
    ``/api/tags``, ``/v1/models`` and ``/v1/openai/v1/models``.

Each is also tried with the ``test_id`` the file had before the project's rename to ogx
(``ogx_client`` -> ``llama_stack_client``): the rename rewrote test ids inside files, not their
names.
``raw-http``
    records of raw HTTP calls (``{"test_id", "url", "method", "payload"}``: rerank, ``/v1/messages``
    and ``/interactions`` passthrough): ``sha256(json.dumps({"test_id", "url", "method",
    "payload": normalised payload}, sort_keys=True))`` (``normalize_http_request``).
``legacy``
    files from before test ids (``<12 hex>.json``): the first 12 hex of the hash of method, URL
    path and the raw body.
``tool``
    ``tool_invoke`` records: ``{"provider", "tool_name", "kwargs"}``, no test id.

Model lists are named ``models-<hash>-<digest8>.json``, where ``digest8`` is the first 8 hex of
the SHA-256 of the sorted, distinct model ids (Ollama's ``model`` names for ``/api/tags``) joined
by ``|`` (``_model_identifiers_digest``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from .._canonical import normalize_body

_FILE_SEARCH_SCORE = re.compile(r"score:\s*[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")
_FILE_SEARCH_ATTRIBUTES = re.compile(r",?\s*attributes:\s*\{[^}]*\}")
_UUID = r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"
_FILE_SEARCH_DOCUMENT_ID = re.compile(r"document_id:\s*" + _UUID)
_FILE_SEARCH_CITATION = re.compile(r"<\|" + _UUID + r"\|>")
HASH_NAME = re.compile(r"^([0-9a-f]{64})\.json$")
MODELS_NAME = re.compile(r"^models-([0-9a-f]{64})-([0-9a-f]{8})\.json$")
LEGACY_NAME = re.compile(r"^(?:models-)?([0-9a-f]{12})(?:-[0-9a-f]{8})?\.json$")


def _sha256(key: Any) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()


def _placeholders(value: str) -> str:
    value = _FILE_SEARCH_SCORE.sub("score: __NORMALIZED__", value)
    value = _FILE_SEARCH_ATTRIBUTES.sub("", value)
    value = _FILE_SEARCH_DOCUMENT_ID.sub("document_id: __NORMALIZED__", value)
    return _FILE_SEARCH_CITATION.sub("<|__NORMALIZED__|>", value)


def normalize_for_hash(
    value: Any,
    *,
    placeholders: bool = False,
    drop_stream_options: bool = False,
    drop_project_id: bool = False,
) -> Any:
    """``value`` as llama-stack's ``_normalize_body_for_hash`` gives it (a new value; JSON in, JSON
    out). The flags are the current recorder's rules; ``drop_*`` apply to the top level only."""

    normalized = normalize_body(value, _placeholders if placeholders else None)
    if isinstance(normalized, dict):
        if drop_stream_options:
            normalized.pop("stream_options", None)
        if drop_project_id:
            for extra_key in ("extra_body", "extra_query"):
                extra = normalized.get(extra_key)
                if isinstance(extra, dict):
                    extra.pop("project_id", None)
    return normalized


@dataclass(frozen=True)
class Recipe:
    """One of llama-stack's naming recipes for an inference record (see the module docstring)."""

    name: str
    placeholders: bool = False
    bedrock: bool = False
    project_id: bool = False
    #: Whether a URL path is a model list hashed without ``test_id``.
    shared: Callable[[str], bool] = lambda path: False

    def digest(self, document: Mapping[str, Any]) -> str:
        """The 64-hex hash this recipe gives the document's request."""
        request = document["request"]
        parsed = urlparse(request["url"])
        body = normalize_for_hash(
            request.get("body"),
            placeholders=self.placeholders,
            drop_stream_options=self.bedrock and "bedrock" in parsed.netloc,
            drop_project_id=self.project_id,
        )
        key: dict[str, Any] = {
            "method": str(request["method"]).upper(),
            "endpoint": parsed.path,
            "body": body,
        }
        if not self.shared(parsed.path):
            key["test_id"] = document.get("test_id")
        return _sha256(key)


DOCUMENTED = Recipe("documented")
CURRENT = Recipe(
    "current",
    placeholders=True,
    bedrock=True,
    project_id=True,
    shared=lambda path: path == "/api/tags" or path.endswith("/models"),
)
EXACT_MODEL_LISTS = Recipe(
    "current, exact model-list paths",
    placeholders=True,
    bedrock=True,
    project_id=True,
    shared=lambda path: path in ("/api/tags", "/v1/models", "/v1/openai/v1/models"),
)
#: The recipes tried, in order; a name is right if one of them re-derives it.
RECIPES = (DOCUMENTED, CURRENT, EXACT_MODEL_LISTS)
#: The project's rename (llama-stack -> ogx) rewrote test ids inside files, not their names.
_RENAMED = (("ogx_client", "llama_stack_client"), ("OgxClient", "LlamaStackClient"), ("ogx", "llama_stack"))


def _before_rename(test_id: object) -> str | None:
    if not isinstance(test_id, str) or "ogx" not in test_id.lower():
        return None
    for new, old in _RENAMED:
        test_id = test_id.replace(new, old)
    return test_id


def raw_http_digest(document: Mapping[str, Any], *, current: bool = True) -> str:
    """The hash of a raw-HTTP record ``{"test_id", "url", "method", "payload"}``."""
    request = document["request"]
    test_id = request.get("test_id", document.get("test_id"))
    payload = normalize_for_hash(request.get("payload"), placeholders=current, drop_project_id=current)
    return _sha256(
        {
            "test_id": test_id,
            "url": request["url"],
            "method": str(request["method"]).upper(),
            "payload": payload,
        }
    )


def tool_digest(request: Mapping[str, Any]) -> str:
    """llama-stack's ``tool_invoke`` hash (provider, tool name and arguments; no test id)."""
    return _sha256(
        {"provider": request["provider"], "tool_name": request["tool_name"], "kwargs": request["kwargs"]}
    )


def legacy_digest(request: Mapping[str, Any]) -> str:
    """llama-stack's hash before test ids (12 hex of method, URL path and the raw body)."""
    path = urlparse(request["url"]).path
    return _sha256({"method": request["method"], "endpoint": path, "body": request["body"]})[:12]


def model_ids_digest(document: Mapping[str, Any]) -> str | None:
    """The ``digest8`` of a model list's file name, or None if the body is not a model list."""
    body = document["response"].get("body")
    ollama = isinstance(body, dict) and "models" in body
    items = body.get("__data__", body).get("models") if ollama and isinstance(body, dict) else body
    if isinstance(items, dict) and isinstance(items.get("data"), list):
        items = items["data"]
    if not isinstance(items, list):
        return None
    ids = []
    for item in items:
        data = item.get("__data__", item) if isinstance(item, dict) else None
        ident = data.get("model" if ollama else "id") if isinstance(data, dict) else None
        if not isinstance(ident, str):
            return None
        ids.append(ident)
    return hashlib.sha256("|".join(sorted(set(ids))).encode("utf-8")).hexdigest()[:8]


def candidates(document: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(recipe name, 64-hex hash)`` for every recipe that applies to the document's layout."""
    request = document["request"]
    if {"provider", "tool_name", "kwargs"} <= request.keys():
        yield "tool", tool_digest(request)
    elif "payload" in request:
        yield "raw-http", raw_http_digest(document)
        yield "raw-http (documented)", raw_http_digest(document, current=False)
    else:
        for recipe in RECIPES:
            yield recipe.name, recipe.digest(document)
        renamed = _before_rename(document.get("test_id"))
        if renamed is not None:
            for recipe in RECIPES:
                yield (
                    f"{recipe.name}, test id before the ogx rename",
                    recipe.digest({**document, "test_id": renamed}),
                )


def name_check(name: str, document: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether a llama-stack file's ``name`` re-derives from its content, and how: ``(True, recipe)``
    or ``(False, what is wrong)``. Raises ``KeyError``/``TypeError`` for a request too malformed to hash."""
    legacy = LEGACY_NAME.match(name)
    if legacy:
        ok = legacy_digest(document["request"]) == legacy.group(1)
        return ok, "legacy" if ok else "legacy name does not match content (llama-stack's 12-hex hash)"
    models = MODELS_NAME.match(name)
    match = models or HASH_NAME.match(name)
    found = dict(candidates(document))
    if match is None:
        first = next(iter(found.values()), "")
        return False, f"not a llama-stack recording name (content derives {first}.json)"
    for recipe, digest in found.items():
        if digest == match.group(1):
            ids = model_ids_digest(document) if models else None
            if models and ids not in (None, models.group(2)):
                return False, f"model ids do not match the name's digest (content derives {ids})"
            return True, recipe
    tried = ", ".join(repr(recipe) for recipe in found)
    return (
        False,
        f"name does not match content (none of llama-stack's naming recipes re-derives it; tried {tried})",
    )
