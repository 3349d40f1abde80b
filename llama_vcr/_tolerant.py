"""Tolerant matching: request bodies the API treats alike are equal (opt-in; matching is exact otherwise).

:func:`tolerant_form` maps a body (already in ``_canonical.match_form``) to what tolerant matching
compares. Two bodies are tolerantly equal when these forms are equal:

- a member whose value is ``null`` is the member left out, at the top level of the body and of
  each object in its ``messages`` / ``input`` list (the OpenAI API reference marks those optional
  parameters "nullable": null means "not given"); so is a member whose value is ``""``. Never
  deeper: inside a JSON Schema (``parameters``, ``response_format``), a tool's input or any other
  user data, ``null`` and ``""`` are values (``{"const": null}`` is not ``{}``). List items are
  never dropped (``[null]`` is not ``[]``), nor are ``0``, ``false``, ``{}`` or ``[]``;
- a top-level parameter set to the default the API reference documents for its endpoint
  (:data:`API_DEFAULTS`) is the parameter left out: ``n: 1``, ``stream: false``... Only the
  values listed there, compared with their type (``true`` is never ``1``, ``1.0`` is ``1``
  through ``match_form``), and only on the endpoints listed: a default is never assumed where an
  API documents another one (Ollama's ``/api/chat`` streams unless ``stream: false``).

The stored body is never rewritten: this is a comparison, and what it tolerated is reported
(``_report.tolerated_message``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: ``(endpoint suffix, {parameter: documented default})``, the first suffix the path ends with wins.
#: Source: the OpenAI API reference (platform.openai.com/docs/api-reference), "Defaults to ..." of
#: each request-body parameter of Create chat completion, Create completion (legacy), Create
#: embeddings and Create a model response. Providers with an OpenAI-compatible API (Azure OpenAI
#: ``/openai/deployments/<name>/chat/completions``, Together, Fireworks, vLLM, Ollama's ``/v1``)
#: share these paths and their defaults.
API_DEFAULTS: tuple[tuple[str, Mapping[str, Any]], ...] = (
    (
        "/chat/completions",
        {
            "n": 1,
            "stream": False,
            "temperature": 1,
            "top_p": 1,
            "presence_penalty": 0,
            "frequency_penalty": 0,
            "logprobs": False,
            "parallel_tool_calls": True,
            "store": False,
        },
    ),
    (
        "/completions",
        {
            "n": 1,
            "best_of": 1,
            "stream": False,
            "echo": False,
            "temperature": 1,
            "top_p": 1,
            "presence_penalty": 0,
            "frequency_penalty": 0,
        },
    ),
    ("/embeddings", {"encoding_format": "float"}),
    (
        "/responses",
        {
            "stream": False,
            "background": False,
            "temperature": 1,
            "top_p": 1,
            "parallel_tool_calls": True,
            "store": True,
            "truncation": "disabled",
        },
    ),
)

#: Values a JSON object member may have that mean the member was not given.
_ABSENT_VALUES: tuple[Any, ...] = (None, "")


def defaults_for(endpoint: str) -> Mapping[str, Any]:
    """The documented defaults of the endpoint family ``endpoint`` (a URL path) belongs to; ``{}``
    for an endpoint not in :data:`API_DEFAULTS`."""
    path = endpoint.rstrip("/")
    for suffix, defaults in API_DEFAULTS:
        if path.endswith(suffix):
            return defaults
    return {}


def _is(value: Any, default: Any) -> bool:
    return type(value) is type(default) and value == default


#: Lists whose objects' own members may be "not given" (messages of chat, items of responses).
_ITEM_LISTS = ("messages", "input")


def _without_absent(value: dict[str, Any]) -> dict[str, Any]:
    """``value``'s own members but those that mean "not given" (never deeper)."""
    return {
        key: item for key, item in value.items() if not any(_is(item, absent) for absent in _ABSENT_VALUES)
    }


def tolerant_form(body: Any, endpoint: str) -> Any:
    """``body`` (a ``match_form``) with the members that mean "not given" left out (module docstring).

    ``{"model": "m", "n": 1, "user": null, "messages": [{"role": "user", "content": "hi",
    "name": ""}]}`` on ``/v1/chat/completions`` -> ``{"model": "m", "messages": [{"role": "user",
    "content": "hi"}]}``. A body that is not a JSON object is returned as it is.
    Idempotent; never raises.
    """
    if not isinstance(body, dict):
        return body
    defaults = defaults_for(endpoint)
    body = _without_absent(
        {key: item for key, item in body.items() if key not in defaults or not _is(item, defaults[key])}
    )
    for key in _ITEM_LISTS:
        items = body.get(key)
        if isinstance(items, list):
            body[key] = [_without_absent(item) if isinstance(item, dict) else item for item in items]
    return body
