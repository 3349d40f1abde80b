"""What replay hands vcrpy: a loaded request and response, cheap to copy, the body's bytes built
on first read.

vcrpy deep-copies every request it matches and every response it plays; a loaded recording's parts
are immutable or copied shallowly here (:class:`StoredRequest`, :class:`StoredResponse`), and the
response body's wire bytes are built from the recording only when a test reads them
(:class:`LazyBody`). ``codec.decode`` makes them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, cast

from vcr.request import Request


class LazyBody(dict):  # type: ignore[type-arg]
    """A vcrpy response body, ``{"string": bytes}``, whose wire bytes are built from the recording
    when first read.

    It behaves as that full dict through every access path (``["string"]``, ``get``, ``in``,
    iteration, ``keys``/``values``/``items``, ``len``, ``copy``, ``==``, ``|``, ``pop``,
    ``setdefault``, ``repr``, ``dict(body)``, ``json.dumps``): each builds the bytes first (vcrpy's
    aiohttp stub reads ``.get("string", b"")``; its hooks iterate). ``make`` is called once, when it
    succeeds; its errors propagate to the reader.
    """

    def __init__(self, make: Callable[[], bytes]) -> None:
        super().__init__()
        self._make: Callable[[], bytes] | None = make

    def _built(self) -> LazyBody:
        make = self._make
        if make is not None:
            value = make()
            self._make = None
            if not dict.__contains__(self, "string"):  # (unless a writer set it first)
                dict.__setitem__(self, "string", value)
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyBody:
        return self  # built from the file, never mutated: sharing it is safe

    def __getitem__(self, key: Any) -> Any:
        return dict.__getitem__(self._built(), key)

    def get(self, key: Any, default: Any = None) -> Any:
        return dict.get(self._built(), key, default)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self._built(), key)

    def __iter__(self) -> Iterator[Any]:
        return dict.__iter__(self._built())

    def __reversed__(self) -> Iterator[Any]:
        return dict.__reversed__(self._built())

    def __len__(self) -> int:
        return dict.__len__(self._built())

    def keys(self) -> Any:
        return dict.keys(self._built())

    def values(self) -> Any:
        return dict.values(self._built())

    def items(self) -> Any:
        return dict.items(self._built())

    def copy(self) -> dict[Any, Any]:
        return dict(dict.items(self._built()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyBody):
            other._built()
        return dict.__eq__(self._built(), other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None

    def __or__(self, other: Any) -> Any:
        return self.copy() | other if isinstance(other, dict) else NotImplemented

    def __ror__(self, other: Any) -> Any:
        return other | self.copy() if isinstance(other, dict) else NotImplemented

    def __repr__(self) -> str:
        return f"LazyBody({dict.__repr__(self._built())})"

    def __delitem__(self, key: Any) -> None:
        dict.__delitem__(self._built(), key)

    def pop(self, key: Any, *default: Any) -> Any:
        return dict.pop(self._built(), key, *default)

    def popitem(self) -> tuple[Any, Any]:
        return dict.popitem(self._built())

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return dict.setdefault(self._built(), key, default)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (self.copy(),))


class StoredResponse(dict):  # type: ignore[type-arg]
    """A response loaded from a recording; vcrpy deep-copies responses, this one copies shallowly."""

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredResponse:
        return StoredResponse({**self, "headers": {k: list(v) for k, v in self["headers"].items()}})


class StoredRequest(Request):
    """A request cheap to copy: one loaded from a recording, or a live one before vcrpy's
    ``before_record_request`` copies it. Its copy shares the immutable parts (method, URL, a bytes
    or text body) and copies the mutable ones (headers, a chunked body's list, and deeply any
    other body: aiohttp hands over the caller's own ``json=`` / ``data=`` object)."""

    @classmethod
    def of(cls, request: Request) -> StoredRequest:
        request.__class__ = cls
        return cast(StoredRequest, request)

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredRequest:
        clone = copy.copy(self)
        clone.headers = dict(self.headers)
        body = clone._body
        if isinstance(body, list) and all(isinstance(chunk, bytes) for chunk in body):
            clone._body = list(body)
        elif not isinstance(body, (bytes, str, type(None))):  # (aiohttp's json= / data= object)
            clone._body = copy.deepcopy(body, memo)
        return clone
