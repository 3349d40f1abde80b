"""Strict JSON: the value of a recording's text, refusing what :func:`json.loads` lets through.

A recording is untrusted input (it may come from a pull request that only touches ``cassettes/``),
and Python's :mod:`json` reads more than JSON, and values nested deeper than later code can take.
:func:`parse` refuses, with the path of the first offending value (``a[1]: duplicate key 'c'``):

- duplicate keys: :func:`json.loads` keeps the last one and other parsers the first, so a reviewer
  or another tool could read a value other than the one replay uses;
- ``NaN``, ``Infinity`` and ``-Infinity``: not JSON, so other tools cannot read the file;
- nesting deeper than :data:`MAX_DEPTH`: recursive code (the SDKs' parsers and models, llama-vcr's
  canonical form, the JSON Schema validator) would raise ``RecursionError``; nor does any
  ``RecursionError`` leave the parse itself, however deep the text;
- integers with more digits than Python converts (:func:`sys.get_int_max_str_digits`), and a byte
  order mark at the start of the text: refused by :mod:`json` too, here with a message that says so.

A valid file costs one read by jiter (Rust) and a walk for its depth; a file jiter refuses is read
again by :mod:`json` (:func:`_parse_text`, the reference), and a refused one a third time
(:func:`_explain`, :func:`_too_deep`) to find where. The fields of the value are :mod:`.validate`'s
to check.

Raises :class:`~llama_vcr.format.wire.RecordingFormatError` (``path: problem``), built by
:func:`_fail`, :func:`_at` and :func:`_show`, which :mod:`.validate` imports for its messages too.
"""

from __future__ import annotations

import gc
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain, compress
from typing import Any, NoReturn

import jiter

from .wire import RecordingFormatError

#: Deepest nesting of arrays and objects a recording may have (the document itself is level 1).
#: Far beyond any API payload, and far below what recursive code (the SDKs' parsers and models,
#: llama-vcr's canonical form, the JSON Schema validator) can take without a ``RecursionError``.
MAX_DEPTH = 100

#: Keys a path shows dotted (``request.headers.content-type``: header names read better so too);
#: any other key is shown in brackets (``body['a b']``).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


# --- messages: where in the document, and what is wrong (validate's too) ---------------------------


def _fail(where: str, problem: str) -> NoReturn:
    raise RecordingFormatError(f"{where}: {problem}" if where else problem)


def _at(where: str, key: str | int) -> str:
    """The path of ``key`` inside ``where``: ``response.body[0].__data__``."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    if _IDENTIFIER.fullmatch(key):
        return f"{where}.{key}" if where else key
    return f"{where}[{_show(key)}]"


def _show(value: Any, limit: int = 60) -> str:
    """A short ``repr`` (control characters escaped, so a message is safe to print)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- parsing ---------------------------------------------------------------------------------------


class _Refused(Exception):
    """A duplicate key or a non-standard constant: :func:`_explain` finds where, off the fast path."""


def _constant(name: str) -> Any:
    raise _Refused


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Refused
    return obj


#: The reference decoder: :mod:`json`, refusing duplicate keys and ``NaN`` / ``Infinity``
#: (:class:`_Refused`). Only files jiter refuses reach it, so it shares no strings as jiter does.
_STRICT = json.JSONDecoder(object_pairs_hook=_unique_pairs, parse_constant=_constant)


def parse(text: str | bytes) -> Any:
    """The JSON value of ``text`` (a file's UTF-8 bytes, or its text); raises
    :class:`RecordingFormatError` saying what and where.

    The text is read once by jiter (pydantic's JSON parser, which refuses duplicate keys and
    ``NaN`` / ``Infinity`` itself, and shares one string per equal key and short value), then its
    nesting depth is checked. Anything jiter refuses (or reads differently from :mod:`json`: a lone
    surrogate escape, nesting beyond its own limit) is read again by :func:`_parse_text`, the
    reference, which gives the error its message; so this function refuses exactly what
    :func:`_parse_text` refuses, and returns equal values (tests/unit/test_strict_json.py).
    """
    with collector_paused():
        value = _parsed_by_jiter(text)
        if value is not _REFUSED:
            return value
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RecordingFormatError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
        return _parse_text(text)


_REFUSED = object()
#: The longest integer jiter reads, in digits (its own limit, whatever the interpreter's is).
JITER_INT_DIGITS = 4300


def _parsed_by_jiter(text: str | bytes) -> Any:
    """``text``'s value read by jiter and no deeper than :data:`MAX_DEPTH`, or ``_REFUSED`` (then
    :func:`_parse_text` decides). Not used when the interpreter reads fewer digits of an integer
    than jiter does (``PYTHONINTMAXSTRDIGITS`` below 4,300): jiter would accept what
    :func:`_parse_text` refuses, and the file would fail later, when its wire bytes are written."""
    limit = sys.get_int_max_str_digits()
    if 0 < limit < JITER_INT_DIGITS:
        return _REFUSED
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    try:
        value = jiter.from_json(data, allow_inf_nan=False, catch_duplicate_keys=True)
    except ValueError:
        return _REFUSED
    if data.count(b"[") + data.count(b"{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        return _REFUSED  # (the value is dropped before the reference builds its own)
    return value


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a value is parsed and walked, if it was on.

    Parsed JSON is a tree: it holds no reference cycle for the collector to find. Yet building a
    big one triggers it every few hundred containers, each run also traversing what was built so
    far: a 100,000-chunk stream's 500,000 containers took 1.7 s to parse and check with it, 0.6 s
    without. Another thread's garbage made meanwhile is collected once it is back on (and a
    ``gc.disable()`` another thread makes meanwhile is undone then: the collector has one switch).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _parse_text(text: str) -> Any:
    """:func:`parse` by :mod:`json` alone: the reference, and the path every refused text takes."""
    if text.startswith("\ufeff"):
        raise RecordingFormatError(
            "not valid JSON: the file starts with a byte order mark (save it as UTF-8 without)"
        )
    refused = too_deep = False
    try:
        value = _STRICT.decode(text)
    except _Refused:
        refused = True
    except RecursionError:  # deeper than the C parser goes (~1,000 levels)
        too_deep = True
    except json.JSONDecodeError as exc:
        raise RecordingFormatError(f"not valid JSON: {exc}") from None
    except ValueError:  # int() refuses a number with more digits than its limit
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
        raise RecordingFormatError(f"not valid JSON: a number with more than {limit} digits") from None
    if refused:
        _explain(text)
    if too_deep or (text.count("[") + text.count("{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH)):
        _too_deep(text)
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels deep: level by level, iterating
    in C (``chain``, ``compress``) over every value of the level's containers."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        items = list(chain.from_iterable([item.values() if type(item) is dict else item for item in level]))
        level = list(compress(items, map(_IS_CONTAINER, map(type, items))))
    return False


_IS_CONTAINER = frozenset({dict, list}).__contains__


# --- where a refused text goes wrong (off the fast path) -------------------------------------------


class _Duplicate(dict):  # type: ignore[type-arg]
    key: str = ""


class _Constant:
    def __init__(self, name: str) -> None:
        self.name = name


def _marking_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    marked = _Duplicate(obj)
    marked.key = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
    return marked


def _explain(text: str) -> NoReturn:
    """Raise the error for the first duplicate key or ``NaN``/``Infinity`` in ``text``, with its path."""
    try:
        value = json.JSONDecoder(object_pairs_hook=_marking_pairs, parse_constant=_Constant).decode(text)
    except RecursionError:
        _too_deep(text)
    except ValueError as exc:  # (the first problem was a duplicate or a constant: never expected)
        raise RecordingFormatError(f"not valid JSON: {exc}") from None
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:  # depth first, in document order
        where, item = stack.pop()
        if isinstance(item, _Constant):
            _fail(where, f"{item.name} is not a JSON number")
        if isinstance(item, _Duplicate):
            _fail(where or "the top-level object", f"duplicate key {_show(item.key)}")
        if isinstance(item, dict):
            stack.extend((_at(where, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((_at(where, index), child) for index, child in reversed(list(enumerate(item))))
    raise RecordingFormatError("not valid JSON: a duplicate key or a NaN/Infinity")  # (not reached)


_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]', re.DOTALL)


def _too_deep(text: str) -> NoReturn:
    """Raise the error for nesting deeper than :data:`MAX_DEPTH`, naming where it starts."""
    frames: list[list[Any]] = []  # [kind, key or index] per open array/object
    last_string = ""
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            if len(frames) >= MAX_DEPTH:
                parts = [frame[1] for frame in frames[:6] if frame[1] is not None]
                where = ""
                for part in parts:
                    where = _at(where, part)
                where = (where or "the document") + ("…" if len(frames) > 6 else "")
                _fail(where, f"arrays and objects nested more than {MAX_DEPTH} levels deep")
            frames.append([token, 0 if token == "[" else None])
        elif token in "]}":
            if frames:
                frames.pop()
        elif token == ",":
            if frames:
                frames[-1][1] = frames[-1][1] + 1 if frames[-1][0] == "[" else None
        elif token == ":":
            if frames and frames[-1][0] == "{":
                try:
                    frames[-1][1] = json.loads(last_string)
                except ValueError:
                    frames[-1][1] = last_string
        else:
            last_string = token
    _fail("", f"arrays and objects nested more than {MAX_DEPTH} levels deep")
