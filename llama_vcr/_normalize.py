"""Determinism: volatile response fields are normalised at write time, and ids are mapped.

A provider answers the same question with fresh ids, timestamps, fingerprints and ``obfuscation``
padding every time; storing them verbatim makes every re-record a diff. At write time:

- every id the response introduces becomes ``rec-<first 12 hex of the file hash>`` (the first
  one), then ``rec-<12 hex>-2``, ``-3``... in document order (``_<n>`` follows the hash for the
  n-th occurrence of the same request). A response *introduces* the values of its keys in
  :data:`OWN_ID_KEYS` (the ids of what it created: a completion, an output item, a tool call, an
  uploaded file) unless it answers a ``GET`` (a retrieval or a listing creates nothing), and of
  :data:`FRESH_ID_KEYS` always. Every other ``*_id`` key (``file_id``, ``vector_store_id``,
  ``item_id``...) refers to another object: it is mapped only if this test already received that
  id (earlier, or anywhere in the same response), so pre-provisioned files, assistants and vector
  stores keep their real ids. Known ids quoted inside other response strings are mapped too.
- The mapping live -> stable is kept for the rest of the test, and every later request is
  canonicalised through it (:meth:`IdMap.apply`: whole values and ids inside longer strings, at
  id boundaries), so a tool-call id, ``previous_response_id`` or ``f"Summarise {file.id}"`` the
  client got live (record time) or stable (replay time) gives the same canonical request;
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


#: Keys whose value is the id of the object that holds it: a response creating it introduces it.
OWN_ID_KEYS = frozenset({"id", "call_id"})
#: Keys whose value is new in every response, whatever the method (Anthropic's error ``request_id``).
FRESH_ID_KEYS = frozenset({"request_id"})
#: Known ids shorter than this are mapped only as whole values, never inside longer strings.
MIN_INNER_ID = 8
#: What may not touch an id found inside a longer string (else it is part of another word or id).
_ID_CHAR = r"[\w-]"
#: A maximal run of id characters: a known id made of them is replaced only as a whole run.
_ID_TOKEN = re.compile(r"[\w-]+")


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
        #: Known ids of :data:`MIN_INNER_ID` or more characters that are not all id characters
        #: (``ft:gpt-4o:org:x``), and their alternation (longest first, at id boundaries).
        self._other: list[str] = []
        self._pattern: tuple[int, re.Pattern[str] | None] = (0, None)

    def __len__(self) -> int:
        return len(self._stable)

    def __contains__(self, live: object) -> bool:
        return live in self._stable

    def get(self, live: str) -> str | None:
        return self._stable.get(live)

    def add(self, live: str, stable: str) -> None:
        if live not in self._stable and len(live) >= MIN_INNER_ID and not _ID_TOKEN.fullmatch(live):
            self._other.append(live)
        self._stable.setdefault(live, stable)

    def apply(self, value: Any) -> Any:
        """``value`` (JSON) with known live ids replaced by their stable ids in every string: a whole
        value, or an id inside a longer one (``"Summarise file-abc"``) at id boundaries (see
        :meth:`replace`). Keys and unknown ids are never touched."""
        return _map_strings(value, self.replace) if self._stable else value

    #: Error messages quote the id the request sent ("No such File object: file-abc").
    apply_text = apply

    def replace(self, text: str) -> str:
        """``text`` with known live ids replaced: the whole string if it is one, else each id of
        :data:`MIN_INNER_ID` or more characters found inside it, neither preceded nor followed by
        a letter, digit, ``_`` or ``-`` (a known ``file-abc`` never rewrites ``file-abcd`` or
        ``file-abc-2``); the longest id wins where two overlap."""
        stable = self._stable
        whole = stable.get(text)
        if whole is not None:
            return whole
        if len(text) < MIN_INNER_ID or not stable:
            return text
        pattern = self._other_pattern()
        if pattern is not None:
            text = pattern.sub(lambda match: stable[match.group(0)], text)

        def token(match: re.Match[str]) -> str:  # an id of id characters is a whole run of them
            found = match.group(0)
            return stable.get(found, found) if len(found) >= MIN_INNER_ID else found

        return _ID_TOKEN.sub(token, text)

    def _other_pattern(self) -> re.Pattern[str] | None:
        """One compiled alternation of the known ids that are not all id characters (cached until
        one more is known; most ids never need it, so the map grows without recompiling)."""
        size, pattern = self._pattern
        if size != len(self._other):
            alternation = "|".join(map(re.escape, sorted(self._other, key=len, reverse=True)))
            pattern = re.compile(f"(?<!{_ID_CHAR})(?:{alternation})(?!{_ID_CHAR})")
            self._pattern = (len(self._other), pattern)
        return pattern

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
    #: ``*_id`` keys whose values are kept as received (``llama_vcr_stable_fields = file_id``).
    stable_keys: frozenset[str] = frozenset()

    @classmethod
    def configured(cls, extra: Iterable[str] = (), keep: Iterable[str] = ()) -> Normalizer:
        """Defaults plus ``extra`` field names (numbers -> 0, strings -> ""), minus ``keep``.

        In ``keep``, ``id`` turns id mapping off altogether; another ``*_id`` name keeps that key's
        values as received (requests are still canonicalised through the id map)."""
        volatile = dict(VOLATILE_FIELDS)
        for name in extra:
            volatile.setdefault(name, _constant_by_type)
        keep = set(keep)
        stable_keys = frozenset(name for name in keep if name != "id" and _is_id_key(name))
        return cls(
            {k: v for k, v in volatile.items() if k not in keep},
            map_ids="id" not in keep,
            stable_keys=stable_keys,
        )

    def response(
        self,
        body: Any,
        ids: IdMap,
        base: str,
        request_values: set[str],
        *,
        map_ids: bool = True,
        introduce: bool = True,
    ) -> Any:
        """Normalise ``body`` in place (and return it). Ids it introduces (see the module docstring;
        none if not ``introduce``: the answer to a ``GET``) are added to ``ids`` as ``base``,
        ``base-2``... in document order; every id key holding a known id, and known ids inside other
        strings, are then mapped. In place: a 10,000-chunk stream is not copied."""
        if not (map_ids and self.map_ids):
            return self._walk(body, None)
        fresh: list[str] = []

        def introduces(key: str, live: str) -> bool:
            return (
                (key in FRESH_ID_KEYS or (introduce and key in OWN_ID_KEYS))
                and key not in self.stable_keys
                and live not in ids
                and live not in request_values
                and live not in ids.sent
                and not live.startswith("rec-")
            )

        def collect(value: Any) -> None:  # first pass: the ids this response introduces, in order
            if isinstance(value, list):
                for item in value:
                    collect(item)
            elif isinstance(value, dict) and value.get(TYPE_KEY) not in STABLE_TYPES:
                for key, item in value.items():
                    if key in self.volatile:
                        continue
                    if isinstance(item, str):
                        if item and introduces(key, item):
                            fresh.append(item)
                            ids.add(item, base if len(fresh) == 1 else f"{base}-{len(fresh)}")
                    elif isinstance(item, (dict, list)):
                        collect(item)

        collect(body)
        return self._walk(body, ids)

    def _walk(self, value: Any, ids: IdMap | None) -> Any:
        """Second pass: volatile fields fixed; known ids mapped (``ids`` None: none mapped)."""
        if isinstance(value, list):
            value[:] = [self._walk(item, ids) for item in value]
        elif isinstance(value, dict) and value.get(TYPE_KEY) not in STABLE_TYPES:
            for key, item in value.items():
                if key in self.volatile:
                    value[key] = self.volatile[key](item)
                elif isinstance(item, str):
                    if ids is not None and item and len(ids) and key not in self.stable_keys:
                        value[key] = ids.replace(item)
                elif isinstance(item, (dict, list)):
                    self._walk(item, ids)
        return value


def _constant_by_type(value: Any) -> Any:
    if isinstance(value, str):
        return ""
    return zero(value)


def request_strings(body: Any, path: str) -> set[str]:
    """Every string a request carries (body values and path segments): client-chosen, never ids."""
    return _strings(body, set(path.split("/")))
