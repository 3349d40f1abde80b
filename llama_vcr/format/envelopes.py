"""The SDK type registry: which SDK class a response body (or each streamed chunk) is.

A recording stores every typed value as an envelope ``{"__type__": "<module>.<QualName>",
"__data__": <the JSON that came over the wire>}``. :func:`envelope` makes one (only if the data
validates as that class; otherwise the plain JSON is kept) and :func:`revive` turns one back
into the SDK's own object.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

TYPE_KEY = "__type__"
DATA_KEY = "__data__"


class UnknownTypeError(LookupError):
    """An envelope names a class that cannot be imported."""


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


class TypeRegistry:
    """An ordered list of :class:`TypeRule`; the first rule that matches a request wins."""

    def __init__(self, rules: Iterable[TypeRule] = ()) -> None:
        self._rules: list[TypeRule] = list(rules)

    def register(self, rule: TypeRule) -> None:
        """Add ``rule`` ahead of the existing ones, so a provider module can refine a default."""
        self._rules.insert(0, rule)

    def rule_for(self, method: str, endpoint: str) -> TypeRule | None:
        return next((rule for rule in self._rules if rule.matches(method.upper(), endpoint)), None)


@lru_cache(maxsize=256)
def _import_object(type_name: str) -> Any:
    """The object named ``<module>.<QualName>``: a class, or a discriminated union alias."""
    module_name, _, qualname = type_name.rpartition(".")
    while module_name:
        try:
            target: Any = importlib.import_module(module_name)
        except ImportError:
            module_name, _, head = module_name.rpartition(".")
            qualname = f"{head}.{qualname}"
            continue
        try:
            for attr in qualname.split("."):
                target = getattr(target, attr)
        except AttributeError:
            break
        return target
    raise UnknownTypeError(f"cannot import SDK type {type_name!r}")


def import_type(type_name: str) -> type:
    """The class named ``<module>.<QualName>``; raises :class:`UnknownTypeError`."""
    target = _import_object(type_name)
    if not isinstance(target, type):
        raise UnknownTypeError(f"{type_name!r} is not a class")
    return target


@lru_cache(maxsize=64)
def _union_members(type_name: str) -> dict[str, type]:
    """``{type literal: member class}`` of a union discriminated by its members' ``type`` field."""
    target = _import_object(type_name)
    while typing.get_origin(target) is typing.Annotated:
        target = typing.get_args(target)[0]
    members: dict[str, type] = {}
    for member in typing.get_args(target):
        field = getattr(member, "model_fields", {}).get("type")
        for literal in typing.get_args(field.annotation) if field is not None else ():
            members.setdefault(literal, member)
    return members


def resolve(type_name: str, data: Any) -> type:
    """The class ``data`` should be: ``type_name`` itself, or the union member its ``type`` selects."""
    target = _import_object(type_name)
    if isinstance(target, type):
        return target
    member = _union_members(type_name).get(data.get("type") if isinstance(data, dict) else None)
    if member is None:
        raise UnknownTypeError(f"no member of {type_name!r} has type {data.get('type')!r}")
    return member


@lru_cache(maxsize=512)
def check_type(type_name: str) -> str | None:
    """Why an envelope's ``__type__`` is wrong, or None if it is fine.

    A type from a package that is not installed (an optional SDK) is fine: its data still replays.
    """
    if not isinstance(type_name, str) or "." not in type_name:
        return f"__type__ {type_name!r} is not a dotted class name"
    package = type_name.split(".", 1)[0]
    if importlib.util.find_spec(package) is None:
        return None
    try:
        import_type(type_name)
    except UnknownTypeError:
        return f"unknown __type__ {type_name!r}: {package} is installed but has no such class"
    return None


def envelope_types(body: Any) -> Iterator[str]:
    """The ``__type__`` of every envelope in a stored response body (streams, pages, values)."""
    items = body if isinstance(body, list) else [body]
    for item in items:
        if isinstance(item, dict):
            if TYPE_KEY in item and item[TYPE_KEY] is not None:
                yield item[TYPE_KEY]
            elif isinstance(item.get("data"), list):
                yield from (d[TYPE_KEY] for d in item["data"] if isinstance(d, dict) and d.get(TYPE_KEY))


def type_name_of(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def envelope(data: Any, type_name: str | None) -> Any:
    """``data`` wrapped in an envelope for ``type_name`` if it validates as that class, else ``data``."""
    if type_name is None or not isinstance(data, dict):
        return data
    try:
        cls: Any = resolve(type_name, data)
        cls.model_validate(data)
    except Exception:  # an optional SDK missing, or data the SDK would not accept
        return data
    return {TYPE_KEY: type_name_of(cls), DATA_KEY: data}


def is_envelope(value: Any) -> bool:
    return isinstance(value, dict) and DATA_KEY in value


def unwrap(value: Any) -> Any:
    """The wire JSON inside an envelope (or ``value`` itself if it is plain JSON)."""
    return value[DATA_KEY] if is_envelope(value) else value


def revive(value: Any, *, strict: bool = False) -> Any:
    """The SDK object an envelope stands for; lists are revived element by element.

    Like llama-stack, falls back to ``model_construct`` and then to the raw data when validation
    fails; with ``strict`` an unknown type raises :class:`UnknownTypeError` instead.
    """
    if isinstance(value, list):
        return [revive(item, strict=strict) for item in value]
    if not is_envelope(value) or value.get(TYPE_KEY) is None:
        return unwrap(value)
    data = value[DATA_KEY]
    try:
        cls: Any = import_type(value[TYPE_KEY])
    except UnknownTypeError:
        if strict:
            raise
        return data
    try:
        return cls.model_validate(data)
    except Exception:
        try:
            return cls.model_construct(**data)
        except Exception:
            return data


def _default_registry() -> TypeRegistry:
    from ..providers import RULES  # the provider modules import TypeRule from here

    return TypeRegistry(RULES)


REGISTRY = _default_registry()
