"""What an SDK builds from a response payload: the class a typed envelope names, or why none.

A recording types a value as the class the SDK returned for it live, so that reviving the envelope
gives the object the test saw. The rule is each SDK's own:

- **Stainless SDKs** (``openai``, ``anthropic``, and any SDK whose models derive from a
  ``<package>._models.BaseModel`` next to a ``construct_type`` function) build leniently:
  ``_base_client.py`` ``_process_response_data`` calls ``_models.construct_type(type_=cast_to,
  value=data)`` (unless the client was made with ``_strict_response_validation=True``). For a
  model class and a JSON object that is ``cls.construct(**data)``: nothing is validated, a missing
  required field is simply absent. For a union annotated ``PropertyInfo(discriminator="type")``
  (stream events): strict validation of the union first, else the variant whose ``type`` literal
  the data names, else the first variant that constructs (so an unknown ``type`` gives the first
  variant). :func:`built_class` calls that very ``construct_type``, so the class is the one the
  installed SDK builds (openai 2.x and 3.x alike). A value that is not a JSON object builds no
  model (``construct_type`` returns it as it is).
- **Other SDKs** (``ollama``) validate: ``ollama/_client.py`` ``_request`` returns ``cls(**data)``,
  so data that fails validation made the live call raise, and builds nothing.
- **Streams** drop some events before building anything (``Stream.__stream__`` in each SDK's
  ``_streaming.py``): openai raises ``APIError`` for an event whose object has a truthy
  ``"error"``; anthropic raises for ``event: error`` and skips ``ping`` events and events with no
  ``event:`` line; ollama raises ``ResponseError`` for an NDJSON line with a truthy ``"error"``.

A JSON object the endpoint's rule covers but the SDK builds no class from is stored as
``{"__data__": …, "__untyped__": <reason>}`` with one of :data:`REASONS`
(``docs/recording-format.md``).
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import pydantic

#: The SDK raises on it instead of returning an object (an error event in a stream).
ERROR = "error"
#: The SDK's stream skips the event: it never reaches the caller (Anthropic's ``ping``).
SKIPPED = "skipped"
#: The SDK validates (Ollama), or builds no model (no variant of a union constructs), and this
#: data fails: the live call raised.
INVALID = "invalid"
#: The class could not be imported where the value was recorded (its SDK is not installed).
UNAVAILABLE = "unavailable"
#: Every ``__untyped__`` reason.
REASONS = frozenset({ERROR, SKIPPED, INVALID, UNAVAILABLE})

Builder = Callable[..., Any]


def union_args(target: Any) -> tuple[Any, ...] | None:
    """The members of a (possibly ``Annotated``) ``Union``, or None if ``target`` is not one."""
    while typing.get_origin(target) is typing.Annotated:
        target = typing.get_args(target)[0]
    if typing.get_origin(target) in (typing.Union, types.UnionType):
        return typing.get_args(target)
    return None


def _classes(target: Any) -> tuple[type, ...]:
    members = (target,) if isinstance(target, type) else union_args(target) or ()
    return tuple(member for member in members if isinstance(member, type))


def _openai_stream(data: dict[str, Any], event: str | None) -> str | None:
    return ERROR if data.get("error") else None  # openai/_streaming.py Stream.__stream__


def _anthropic_stream(data: dict[str, Any], event: str | None) -> str | None:
    if event == "error":  # anthropic/_streaming.py Stream.__stream__ raises _make_status_error
        return ERROR
    return SKIPPED if event is None or event == "ping" else None  # ... and `continue`s past these


def _ollama_stream(data: dict[str, Any], event: str | None) -> str | None:
    return ERROR if data.get("error") else None  # ollama/_client.py _request: raise ResponseError


#: Per SDK (top-level package): why its stream yields no object for an event, or None.
_STREAM_RULES: dict[str, Callable[[dict[str, Any], str | None], str | None]] = {
    "openai": _openai_stream,
    "anthropic": _anthropic_stream,
    "ollama": _ollama_stream,
}


def _lenient_builder(cls: type) -> Builder | None:
    """``<sdk>._models.construct_type`` if ``cls`` is a Stainless model (it derives from the
    ``BaseModel`` of a ``_models`` module of a package it lies in, which has ``construct_type``),
    else None. Imports nothing: a model's ``_models`` module is imported with its class. (The
    base's ``__module__`` cannot tell: openai/__init__.py renames it ``"openai"``.)"""
    parts = cls.__module__.split(".")
    for end in range(1, len(parts)):
        models = sys.modules.get(".".join(parts[:end]) + "._models")
        base = getattr(models, "BaseModel", None)
        builder = getattr(models, "construct_type", None)
        if isinstance(base, type) and issubclass(cls, base) and callable(builder):
            return typing.cast(Builder, builder)
    return None


@lru_cache(maxsize=64)
def _adapter(target: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(target)


def built_class(
    target: Any, data: Any, *, stream: bool = False, event: str | None = None
) -> type | str | None:
    """The class the SDK builds from ``data`` for ``target`` (a model class, or the union alias a
    stream's ``cast_to`` is), a reason from :data:`REASONS` when it builds none from this JSON
    object, or None when ``data`` is not a JSON object (the SDK builds no model from it).

    ``stream``: ``data`` is one event (SSE ``data:``, or an NDJSON line), ``event`` its ``event:``
    name. Raises nothing: a builder that fails is :data:`INVALID`.
    """
    if not isinstance(data, dict):
        return None
    classes = _classes(target)
    if not classes:
        return INVALID
    if stream:
        rule = _STREAM_RULES.get(classes[0].__module__.partition(".")[0])
        reason = rule(data, event) if rule is not None else None
        if reason is not None:
            return reason
    builder = _lenient_builder(classes[0])
    try:
        built = (
            builder(type_=target, value=data)
            if builder is not None
            else _adapter(target).validate_python(data)
        )
    except Exception:  # the SDK raised (validation, or no variant constructs)
        return INVALID
    return type(built) if type(built) in classes else INVALID
