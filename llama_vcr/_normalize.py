"""Determinism: volatile response fields are normalised at write time, and ids are mapped.

A provider answers the same question with fresh ids, timestamps, fingerprints and ``obfuscation``
padding every time; storing them verbatim makes every re-record a diff. At write time:

- every id the response introduces (keys ``id`` and ``*_id``) becomes ``rec-<first 12 hex of the
  file hash>`` (the first one), then ``rec-<12 hex>-2``, ``-3``... (``_<n>`` follows the hash for
  the n-th occurrence of the same request). The mapping live -> stable is kept for the rest of
  the test, and every later request is canonicalised through it, so a tool-call id or
  ``previous_response_id`` the client got live (record time) or stable (replay time) gives the
  same canonical request;
- fields listed in :data:`VOLATILE_FIELDS` get a fixed value (numbers 0, timestamps the epoch).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import providers as _providers
from .format.envelopes import TYPE_KEY
from .providers._provider import zero

#: Response headers whose value is replaced by ``req_<stable id>``.
REQUEST_ID_HEADERS = _providers.REQUEST_ID_HEADERS
#: Endpoints whose responses name things (a model's id is its name): ids there are never mapped.
NAMING_ENDPOINTS = re.compile(r"/models(/[^/]+)?$")
#: Response fields that are pure noise, and what each is replaced with (see ``providers/``).
VOLATILE_FIELDS = _providers.VOLATILE_FIELDS
#: SDK types whose ids are names, not generated values (never normalised).
STABLE_TYPES = _providers.STABLE_TYPES


def _is_id_key(key: str) -> bool:
    return key == "id" or key.endswith("_id")


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of JSON ``value`` with ``change`` applied to every string value (keys stay)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    return value


def _strings(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)
    return out


class IdMap:
    """Live id -> stable id, for one test; it only grows."""

    def __init__(self) -> None:
        self._stable: dict[str, str] = {}
        #: Every string the test's requests carried: client-chosen, so never mapped when echoed.
        self.sent: set[str] = set()

    def __len__(self) -> int:
        return len(self._stable)

    def __contains__(self, live: object) -> bool:
        return live in self._stable

    def get(self, live: str) -> str | None:
        return self._stable.get(live)

    def add(self, live: str, stable: str) -> None:
        self._stable.setdefault(live, stable)

    def apply(self, value: Any) -> Any:
        """``value`` (JSON) with every string that is a known live id replaced by its stable id."""
        return _map_strings(value, lambda text: self._stable.get(text, text)) if self._stable else value

    def apply_text(self, value: Any) -> Any:
        """``value`` (JSON) with live ids replaced wherever they occur inside strings (error messages
        quote the id the request sent: "No such File object: file-abc")."""
        return _map_strings(value, self._replace_inside) if self._stable else value

    def _replace_inside(self, text: str) -> str:
        for live, stable in self._stable.items():
            if live in text:
                text = text.replace(live, stable)
        return text

    def apply_path(self, path: str) -> str:
        """A URL path with segments that are live ids (``/v1/files/file-abc``) replaced."""
        if not self._stable or "/" not in path:
            return path
        return "/".join(self._stable.get(segment, segment) for segment in path.split("/"))


@dataclass
class Normalizer:
    """Rewrites one response body in place of its volatile values (see the module docstring)."""

    volatile: Mapping[str, Callable[[Any], Any]] = field(default_factory=lambda: dict(VOLATILE_FIELDS))
    map_ids: bool = True

    @classmethod
    def configured(cls, extra: Iterable[str] = (), keep: Iterable[str] = ()) -> Normalizer:
        """Defaults plus ``extra`` field names (numbers -> 0, strings -> ""), minus ``keep``."""
        volatile = dict(VOLATILE_FIELDS)
        for name in extra:
            volatile.setdefault(name, _constant_by_type)
        keep = set(keep)
        return cls({k: v for k, v in volatile.items() if k not in keep}, map_ids="id" not in keep)

    def response(
        self, body: Any, ids: IdMap, base: str, request_values: set[str], *, map_ids: bool = True
    ) -> Any:
        """Normalise ``body`` in place (and return it); ids it introduces are added to ``ids`` as
        ``base``, ``base-2``... (in place: a 10,000-chunk stream is not copied again)."""
        fresh: list[str] = []

        def stable_id(live: str) -> str:
            known = ids.get(live)
            if known is not None or live in request_values or live in ids.sent or live.startswith("rec-"):
                return known or live
            stable = base if not fresh else f"{base}-{len(fresh) + 1}"
            fresh.append(live)
            ids.add(live, stable)
            return stable

        def walk(value: Any) -> Any:
            if isinstance(value, list):
                value[:] = [walk(item) for item in value]
            elif isinstance(value, dict) and value.get(TYPE_KEY) not in STABLE_TYPES:
                for key, item in value.items():
                    if key in self.volatile:
                        value[key] = self.volatile[key](item)
                    elif map_ids and self.map_ids and isinstance(item, str) and item and _is_id_key(key):
                        value[key] = stable_id(item)
                    elif isinstance(item, (dict, list)):
                        walk(item)
            return value

        return walk(body)


def _constant_by_type(value: Any) -> Any:
    if isinstance(value, str):
        return ""
    return zero(value)


def request_strings(body: Any, path: str) -> set[str]:
    """Every string a request carries (body values and path segments): client-chosen, never ids."""
    return _strings(body, set(path.split("/")))
