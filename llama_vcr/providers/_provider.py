"""What llama-vcr knows about one provider: :class:`Provider`, and value rules for volatile fields.

A provider module (``providers/<name>.py``) defines one ``PROVIDER = Provider(...)``; the package
finds it by itself, so adding a provider touches one file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any


@dataclass(frozen=True)
class TypeRule:
    """Response types for requests whose method and URL path match ``path`` (a regex, searched).

    ``body`` types a whole JSON response, ``chunk`` each streamed event, and ``items`` the elements
    of a list page's ``data`` array (the page itself has no importable class).
    """

    method: str
    path: str
    body: str | None = None
    chunk: str | None = None
    items: str | None = None

    def matches(self, method: str, endpoint: str) -> bool:
        return method == self.method and _compiled(self.path).search(endpoint) is not None


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


#: A volatile response field's rule: the recorded value -> the value written instead.
ValueRule = Callable[[Any], Any]

EPOCH = "1970-01-01T00:00:00.000000Z"


def timestamp(value: Any) -> Any:
    """Numbers become 0, strings the epoch (ISO 8601); null and booleans stay."""
    if isinstance(value, bool) or value is None:
        return value
    return 0 if isinstance(value, (int, float)) else EPOCH


def zero(value: Any) -> Any:
    """Numbers become 0 (durations, latencies)."""
    return 0 if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def constant(replacement: Any) -> ValueRule:
    """Every non-null value becomes ``replacement``."""
    return lambda value: value if value is None else replacement


#: A volatile response header's rule: ``(name, recorded value, every response header)`` -> the
#: value written (names lower-case; a header sent twice has a list of values).
HeaderRule = Callable[[str, str, Mapping[str, Any]], str]


def fixed(replacement: str) -> HeaderRule:
    """The header is always written as ``replacement`` (a valid value of the same shape)."""
    return lambda name, value, headers: replacement


def counterpart(old: str, new: str, default: str) -> HeaderRule:
    """The value of the header named like this one with ``old`` replaced by ``new``, else
    ``default``: a rate limit's ``remaining`` count becomes its ``limit`` (nothing used yet, so a
    client that backs off as the count nears 0 does not wait on replay)."""

    def rule(name: str, value: str, headers: Mapping[str, Any]) -> str:
        other = headers.get(name.replace(old, new)) if old in name else None
        if isinstance(other, list):
            other = other[0] if other else None
        return other if isinstance(other, str) and other else default

    return rule


@dataclass(frozen=True)
class Provider:
    """One provider's API as llama-vcr records it.

    - ``rules``: which SDK class each endpoint's responses (and streamed chunks) are; earlier
      rules win, and providers with ``fallback=True`` (OpenAI-compatible) come after the others.
    - ``volatile_fields``: response fields that are noise, and what each is written as.
    - ``stable_types``: envelope types whose ids are names (never mapped to stable ids).
    - ``kept_request_headers`` / ``kept_response_headers``: headers stored (all others dropped);
      response header names may be ``fnmatch`` patterns (``x-ratelimit-limit-*``). Never a secret:
      ``tests/unit/test_response_headers.py`` checks them against the redaction policy.
    - ``volatile_response_headers``: kept response headers (names or patterns) whose values vary
      from one recording to the next, and the :data:`HeaderRule` that writes each.
    - ``request_id_headers``: response headers replaced by ``req_<stable id>``.
    - ``secret_env``: environment variables whose values must never be written.
    - ``secret_headers``: request headers that are never written, whatever the configuration.
    - ``sdk_error``: ``(module, class)`` of the SDK's error base: a replay miss also subclasses it
      when the SDK is imported, so the SDK re-raises it at once instead of retrying.
    - ``ndjson_paths``: URL paths whose streams are NDJSON (one JSON value per line) when a
      recording does not say its content type.
    """

    name: str
    rules: tuple[TypeRule, ...] = ()
    volatile_fields: Mapping[str, ValueRule] = field(default_factory=dict)
    stable_types: frozenset[str] = frozenset()
    kept_request_headers: frozenset[str] = frozenset()
    kept_response_headers: frozenset[str] = frozenset()
    volatile_response_headers: Mapping[str, HeaderRule] = field(default_factory=dict)
    request_id_headers: tuple[str, ...] = ()
    secret_env: tuple[str, ...] = ()
    secret_headers: frozenset[str] = frozenset()
    sdk_error: tuple[str, str] | None = None
    ndjson_paths: re.Pattern[str] | None = None
    fallback: bool = False
