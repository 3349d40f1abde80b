"""Tolerant matching: request bodies the API treats alike are equal (opt-in; matching is exact otherwise).

:func:`tolerant_form` maps a body (already in ``_canonical.match_form``) to what tolerant matching
compares. Two bodies are tolerantly equal when these forms are equal:

- a member whose value is ``null`` is the member left out, in every JSON object of the body, at
  any depth (the OpenAI API reference marks optional parameters "nullable": null means "not
  given"); so is a member whose value is ``""``. List items are never dropped (``[null]`` is not
  ``[]``), nor are ``0``, ``false``, ``{}`` or ``[]`` in general;
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


def _without_absent(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _without_absent(item)
            for key, item in value.items()
            if not any(_is(item, absent) for absent in _ABSENT_VALUES)
        }
    if isinstance(value, list):
        return [_without_absent(item) for item in value]
    return value


def tolerant_form(body: Any, endpoint: str) -> Any:
    """``body`` (a ``match_form``) with the members that mean "not given" left out (module docstring).

    ``{"model": "m", "n": 1, "user": null, "messages": [{"role": "user", "content": "hi",
    "name": ""}]}`` on ``/v1/chat/completions`` -> ``{"model": "m", "messages": [{"role": "user",
    "content": "hi"}]}``. A body that is not a JSON object only loses nulls and ``""`` inside it.
    Idempotent; never raises.
    """
    if isinstance(body, dict):
        defaults = defaults_for(endpoint)
        body = {
            key: item for key, item in body.items() if key not in defaults or not _is(item, defaults[key])
        }
    return _without_absent(body)
