"""The SDK type registry: which SDK class a response body (or each streamed chunk) is.

A recording stores every typed value as an envelope ``{"__type__": "<module>.<QualName>",
"__data__": <the JSON that came over the wire>}``. :func:`envelope` makes one, naming the class the
SDK itself built from that JSON (leniently, as openai's ``_models.construct_type`` does: see
:mod:`.sdk_build`); a JSON object the SDK builds no class from (a stream's error event, a skipped
event, data a validating SDK refused) is kept as ``{"__data__": …, "__untyped__": <reason>}``.
:func:`revive` turns an envelope back into the SDK's own object.

A recording is data, and may come from an untrusted pull request, so its ``__type__`` is never
imported blindly: only names inside an allowlist of SDK packages (:data:`DEFAULT_TYPE_PACKAGES`,
plus those given to :func:`allow_type_packages`, the ``llama_vcr_type_packages`` ini option or
the ``LLAMA_VCR_TYPE_PACKAGES`` environment variable) are resolved, and that is decided from the
name alone, before anything is imported. See ``docs/recording-format.md``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import typing
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from ..providers._provider import TypeRule
from .sdk_build import UNAVAILABLE, built_class
from .sdk_build import union_args as _union_args

TYPE_KEY = "__type__"
DATA_KEY = "__data__"
#: Next to ``__data__`` (no ``__type__``): why the SDK builds no class from that JSON object.
UNTYPED_KEY = "__untyped__"


#: The packages an envelope's ``__type__`` may name out of the box: the SDKs llama-vcr types.
DEFAULT_TYPE_PACKAGES: tuple[str, ...] = (
    "openai",
    "anthropic",
    "ollama",
    "llama_stack",
    "llama_stack_client",
)
#: Environment variable with more allowed packages (separated by commas or whitespace), read at
#: every check: how ``llama-vcr verify`` (which reads no ini file) allows a project's own packages.
TYPE_PACKAGES_ENV = "LLAMA_VCR_TYPE_PACKAGES"

#: A plain dotted name: ASCII identifiers joined by dots (no spaces, no "..", no Unicode look-alikes).
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII)
#: Where a refused ``__type__`` is, in the messages (the persister prefixes the file).
_WHERE = "response.body.__type__"

_registered: tuple[str, ...] = ()


class UnknownTypeError(LookupError):
    """An envelope names a class that cannot be imported."""


class DisallowedTypeError(UnknownTypeError):
    """An envelope names something llama-vcr refuses to resolve: a name outside the allowed SDK
    packages, a private or dunder attribute, or an object that is not a class of that package."""


def _is_package_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and _DOTTED_NAME.fullmatch(name) is not None
        and not any(part.startswith("__") for part in name.split("."))
    )


def allow_type_packages(*names: str) -> None:
    """Let envelopes name classes of ``names`` too (top-level packages, or dotted subpackages such
    as ``"mycompany.sdk"``), besides :data:`DEFAULT_TYPE_PACKAGES`. For the rest of the process.

    Only allow packages you trust to import: reviving a ``__type__`` imports its module. Raises
    :class:`ValueError` for a name that is not a plain dotted identifier.
    """
    global _registered
    for name in names:
        if not _is_package_name(name):
            raise ValueError(f"not a package name: {name!r}")
    _registered = tuple(dict.fromkeys((*_registered, *names)))


def allowed_type_packages() -> tuple[str, ...]:
    """The packages an envelope's ``__type__`` may name now (defaults, registered, environment)."""
    from_env = re.split(r"[\s,]+", os.environ.get(TYPE_PACKAGES_ENV, ""))
    extra = [name for name in from_env if _is_package_name(name)]
    return tuple(dict.fromkeys((*DEFAULT_TYPE_PACKAGES, *_registered, *extra)))


def _within(module: object, package: str) -> bool:
    return isinstance(module, str) and (module == package or module.startswith(package + "."))


def _short_repr(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def allowed_package_of(type_name: str) -> str:
    """The allowed package ``type_name`` lies in; raises :class:`DisallowedTypeError` if none.

    Decided from the string alone: nothing is imported or looked up (not even the top-level
    package), so a recording cannot make llama-vcr import a module outside the allowlist.
    """
    if not isinstance(type_name, str) or "." not in type_name or _DOTTED_NAME.fullmatch(type_name) is None:
        raise DisallowedTypeError(
            f"{_WHERE} {_short_repr(type_name)} is not a dotted class name"
            " (ASCII identifiers joined by dots, like 'openai.types.model.Model')"
        )
    allowed = allowed_type_packages()
    module_part = type_name.rpartition(".")[0]
    matches = [package for package in allowed if _within(module_part, package)]
    if not matches:
        raise DisallowedTypeError(
            f"{_WHERE} {type_name!r} is not in an allowed SDK package ({', '.join(allowed)}); it was"
            " not imported. If the package is your own, allow it with the llama_vcr_type_packages ini"
            f" option (${TYPE_PACKAGES_ENV} for llama-vcr verify); otherwise the recording was tampered with"
        )
    dunder = next((part for part in type_name.split(".") if part.startswith("__")), None)
    if dunder is not None:
        raise DisallowedTypeError(
            f"{_WHERE} {type_name!r} names the private or dunder attribute {dunder!r}; only public SDK"
            " classes can be revived"
        )
    return max(matches, key=len)


class TypeRegistry:
    """An ordered list of :class:`TypeRule`; the first rule that matches a request wins."""

    def __init__(self, rules: Iterable[TypeRule] = ()) -> None:
        self._rules: list[TypeRule] = list(rules)

    def register(self, rule: TypeRule) -> None:
        """Add ``rule`` ahead of the existing ones, so a provider module can refine a default."""
        self._rules.insert(0, rule)

    def rule_for(self, method: str, endpoint: str, sdk: str | None = None) -> TypeRule | None:
        """The first rule for the request. ``sdk``, the client's User-Agent product (``OpenAI/Python
        3.57.0``, ``ollama-python/0.6.3``): when it names the SDK of another rule's package, rules
        typing with a different package are skipped, as that SDK built its own classes (an
        Anthropic client's ``GET /v1/models`` is no ``openai.types.model.Model``)."""
        client = _package_key(sdk.partition("/")[0].removesuffix("-python")) if sdk else ""
        known = {_rule_package(rule) for rule in self._rules}
        return next(
            (
                rule
                for rule in self._rules
                if rule.matches(method.upper(), endpoint)
                and (client not in known or _rule_package(rule) == client)
            ),
            None,
        )


def _package_key(name: str) -> str:
    """``"llama_stack_client"``, ``"LlamaStackClient"`` -> ``"llamastackclient"``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _rule_package(rule: TypeRule) -> str:
    """The key of the top-level package a rule's classes lie in."""
    name = rule.body or rule.chunk or rule.items or ""
    return _package_key(name.partition(".")[0])


def _import_object(type_name: str) -> Any:
    """The object named ``<module>.<QualName>``: a class, or a discriminated union alias.

    Raises :class:`DisallowedTypeError`, having imported nothing, if the name is not allowed.
    """
    return _import_allowed(type_name, allowed_package_of(type_name))


@lru_cache(maxsize=256)
def _import_allowed(type_name: str, package: str) -> Any:
    """:func:`_import_object` once ``type_name`` is known to lie in the allowed ``package``."""
    module_name, _, qualname = type_name.rpartition(".")
    while _within(module_name, package):  # never import a module outside the allowed package
        try:
            target: Any = importlib.import_module(module_name)
        except ImportError:
            module_name, _, head = module_name.rpartition(".")
            qualname = f"{head}.{qualname}"
            continue
        except Exception as exc:  # an SDK module that fails to import: the type is unusable here
            raise UnknownTypeError(f"cannot import SDK type {type_name!r} ({module_name}: {exc!r})") from exc
        for attr in qualname.split("."):
            if attr.startswith("_"):  # modules may be private (ollama._types), attributes may not
                raise DisallowedTypeError(
                    f"{_WHERE} {type_name!r} names the private attribute {attr!r} of {module_name};"
                    " only public SDK classes can be revived"
                )
            try:
                target = getattr(target, attr)
            except AttributeError:
                raise UnknownTypeError(f"cannot import SDK type {type_name!r}") from None
        _check_sdk_object(type_name, target, package)
        return target
    raise UnknownTypeError(f"cannot import SDK type {type_name!r}")


def _check_sdk_object(type_name: str, target: Any, package: str) -> None:
    """Refuse anything but a class defined in ``package``, or a union alias of such classes."""
    if isinstance(target, type):
        if _within(target.__module__, package):
            return
        what = f"a class of {target.__module__}"
    else:
        members = _union_args(target)
        if members is None:
            raise UnknownTypeError(f"{type_name!r} is not a class")
        foreign = [m for m in members if not (isinstance(m, type) and _within(m.__module__, package))]
        if not foreign:
            return
        what = f"a union with the member {_short_repr(foreign[0])}"
    raise DisallowedTypeError(f"{_WHERE} {type_name!r} is not a class of the SDK package {package} ({what})")


def import_type(type_name: str) -> type:
    """The class named ``<module>.<QualName>``; raises :class:`UnknownTypeError`.

    Only names inside the allowed SDK packages are imported (see :func:`allowed_package_of`); any
    other name raises :class:`DisallowedTypeError` (an :class:`UnknownTypeError`) unimported.
    """
    target = _import_object(type_name)
    if not isinstance(target, type):
        raise UnknownTypeError(f"{type_name!r} is not a class")
    return target


def _union_members(type_name: str) -> dict[str, type]:
    """``{type literal: member class}`` of a union discriminated by its members' ``type`` field."""
    return _members_of(type_name, allowed_package_of(type_name))


@lru_cache(maxsize=64)
def _members_of(type_name: str, package: str) -> dict[str, type]:
    members: dict[str, type] = {}
    for member in _union_args(_import_allowed(type_name, package)) or ():
        field = getattr(member, "model_fields", {}).get("type")
        for literal in typing.get_args(field.annotation) if field is not None else ():
            members.setdefault(literal, member)
    return members


def resolve(type_name: str, data: Any) -> type:
    """The class ``data`` should be: ``type_name`` itself, or the union member its ``type`` selects."""
    target = _import_object(type_name)
    if isinstance(target, type):
        return target
    kind = data.get("type") if isinstance(data, dict) else None
    member = _union_members(type_name).get(kind) if isinstance(kind, str) else None
    if member is None:
        raise UnknownTypeError(f"no member of {type_name!r} has type {kind!r}")
    return member


def check_type(type_name: str) -> str | None:
    """Why an envelope's ``__type__`` is wrong, or None if it is fine.

    A name outside the allowed SDK packages, not a plain dotted name, or naming a private or dunder
    attribute is wrong, and is refused before anything is imported. A type from an allowed package
    that is not installed (an optional SDK) is fine: its data still replays.
    """
    try:
        package = allowed_package_of(type_name)
    except DisallowedTypeError as exc:
        return str(exc)
    return _check_allowed(type_name, package)


@lru_cache(maxsize=512)
def _check_allowed(type_name: str, package: str) -> str | None:
    try:
        installed = importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a dotted package whose parent is not installed
        installed = False
    if not installed:
        return None
    try:
        _import_allowed(type_name, package)
    except DisallowedTypeError as exc:
        return str(exc)
    except UnknownTypeError:
        top = package.split(".", 1)[0]
        return f"unknown __type__ {type_name!r}: {top} is installed but has no such class"
    return None


def envelope_types(body: Any) -> Iterator[str]:
    """The ``__type__`` of every envelope in a stored response body (streams, pages, values).

    A ``__type__`` that is not a string comes as its JSON text, which :func:`check_type` refuses.
    """
    items = body if isinstance(body, list) else [body]
    for item in items:
        if isinstance(item, dict):
            if TYPE_KEY in item and item[TYPE_KEY] is not None:
                yield _as_name(item[TYPE_KEY])
            elif isinstance(item.get("data"), list):
                for d in item["data"]:
                    if isinstance(d, dict) and d.get(TYPE_KEY):
                        yield _as_name(d[TYPE_KEY])


def _as_name(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@lru_cache(maxsize=256)
def type_name_of(cls: type) -> str:
    """``module.QualName`` of a class: one string per class (a stream's chunks share it)."""
    return f"{cls.__module__}.{cls.__qualname__}"


def envelope(data: Any, type_name: str | None, *, stream: bool = False, event: str | None = None) -> Any:
    """``data`` as stored for a rule's ``type_name`` (a class, or a union alias of stream events).

    - ``{"__type__": <the class the SDK builds>, "__data__": data}`` for a JSON object the SDK
      builds a class from (:func:`.sdk_build.built_class`: openai's lenient ``construct_type``,
      so a payload missing required fields is typed all the same);
    - ``{"__data__": data, "__untyped__": <reason>}`` for a JSON object it builds none from
      (``stream``: ``data`` is one event, ``event`` its ``event:`` name), or whose class cannot be
      imported here (``"unavailable"``);
    - ``data`` itself if ``type_name`` is None or outside the allowed packages (never imported),
      or ``data`` is not a JSON object.
    """
    if type_name is None or not isinstance(data, dict):
        return data
    try:
        target = _import_object(type_name)
    except DisallowedTypeError:  # a rule naming a package outside the allowlist: never imported
        return data
    except UnknownTypeError:  # an optional SDK missing, or a class it no longer has
        return {DATA_KEY: data, UNTYPED_KEY: UNAVAILABLE}
    built = built_class(target, data, stream=stream, event=event)
    if isinstance(built, type):
        return {TYPE_KEY: type_name_of(built), DATA_KEY: data}
    return {DATA_KEY: data, UNTYPED_KEY: built} if built is not None else data


def is_envelope(value: Any) -> bool:
    return isinstance(value, dict) and DATA_KEY in value


def unwrap(value: Any) -> Any:
    """The wire JSON inside an envelope (or ``value`` itself if it is plain JSON)."""
    return value[DATA_KEY] if is_envelope(value) else value


def revive(value: Any, *, strict: bool = False) -> Any:
    """The SDK object an envelope stands for; lists are revived element by element.

    Like llama-stack, falls back to ``model_construct`` and then to the raw data when validation
    fails; with ``strict`` an unknown type raises :class:`UnknownTypeError` instead. For the
    Stainless SDKs' models ``model_construct`` is their lenient ``construct`` (openai/_models.py
    ``BaseModel.construct``), so data that does not validate revives as the object the SDK built
    live (``construct_type`` calls that ``construct``; for data that validates, both give equal
    objects). An ``__untyped__`` value revives as its plain ``__data__``.
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
    from ..providers import RULES

    return TypeRegistry(RULES)


REGISTRY = _default_registry()
