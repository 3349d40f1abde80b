"""``strict_json.parse`` reads a file with jiter and falls back to the :mod:`json` reference
(``_parse_text``) for anything jiter refuses: it must refuse exactly what the reference refuses,
with the same message, and return equal values (same types, same key order) for everything else,
whether it is given the file's bytes or its text.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llama_vcr.format import strict_json
from llama_vcr.format.strict_json import MAX_DEPTH, _parse_text, parse
from llama_vcr.format.wire import RecordingFormatError


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values, with the same Python types (1 is not 1.0), key order and float bits."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return math.copysign(1.0, a) == math.copysign(1.0, b) and (a == b or (a != a and b != b))
    return bool(a == b)


def _outcome(read: Any, text: str | bytes) -> tuple[str, Any]:
    try:
        return "value", read(text)
    except RecordingFormatError as exc:
        return "error", str(exc)


def _agrees(text: str) -> None:
    expected = _outcome(_parse_text, text)
    try:
        forms: tuple[str | bytes, ...] = (text, text.encode("utf-8"))
    except UnicodeEncodeError:  # a raw lone surrogate: no UTF-8 form, so no file holds this text
        assert _outcome(parse, text.encode("utf-8", "surrogatepass"))[1].startswith("not UTF-8 (")
        forms = (text,)
    for given_as in forms:
        got = _outcome(parse, given_as)
        assert got[0] == expected[0], (given_as, got, expected)
        if expected[0] == "error":
            assert got[1] == expected[1]
        else:
            assert _same(got[1], expected[1]), (got[1], expected[1])


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec=None)),  # lone surrogates too (written escaped)
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_JSON, st.booleans(), st.sampled_from([None, 0, 2]), st.sampled_from([(",", ":"), (", ", ": ")]))
def test_any_json_value_reads_as_the_reference_reads_it(
    value: Any, ascii: bool, indent: int | None, separators: tuple[str, str]
) -> None:
    _agrees(json.dumps(value, ensure_ascii=ascii, indent=indent, separators=separators))


_ALPHABET = '[]{}":,0123456789.eE+-truefalsnNIiy \t\n\r\\u/bx\ufeff\x00é\ud800'


@settings(max_examples=500, deadline=None)
@given(st.text(_ALPHABET, max_size=30))
def test_any_text_is_refused_or_read_as_the_reference_does(text: str) -> None:
    _agrees(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '{"x": [{"b": 1, "b": 1}]}',
        "[NaN]",
        '{"a": Infinity}',
        "[-Infinity]",
        "[1e400, -1e400, 1e-400, -0, -0.0, 5e-324, 1.7976931348623157e308]",
        '"\\ud800"',
        '"\\udc00\\ud83d\\ude00"',
        '"a\tb"',
        "[1,]",
        "01",
        "\ufeff{}",
        "[1] [2]",
        "",
        " \x0c1",
        "[" + "9" * 4300 + "]",
        "[" + "9" * 4301 + "]",
        "[" * MAX_DEPTH + "]" * MAX_DEPTH,
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        '{"a": ' * 150 + "1" + "}" * 150,
        "[" * 199 + "]" * 199,
        "[" * 201 + "]" * 201,
        "[" * 5000 + "]" * 5000,
        '["[[[[", {"k": "{{{{"}]' + " " * 10,
    ],
)
def test_edge_cases_read_as_the_reference_reads_them(text: str) -> None:
    _agrees(text)


def test_bytes_that_are_not_utf8_say_so() -> None:
    with pytest.raises(RecordingFormatError, match=r"not UTF-8 \(invalid start byte at byte 7\)"):
        parse(b'{"a": "\xff"}')


def test_valid_text_is_read_by_jiter_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is taken: the reference's decoder is never built for a valid file."""

    class Refusing:
        def decode(self, text: str) -> Any:
            raise AssertionError("the reference parser ran for a valid file")

    monkeypatch.setattr(strict_json, "_STRICT", Refusing())
    document = {"response": {"body": [{"__type__": "t", "__data__": {"id": "x", "n": [1, 2.5]}}] * 50}}
    assert parse(json.dumps(document).encode()) == document


def test_an_interpreter_reading_fewer_integer_digits_than_jiter_is_followed() -> None:
    """``PYTHONINTMAXSTRDIGITS=1000``: a 2,000-digit integer is refused at load, as the reference
    refuses it, not accepted by jiter (whose limit is 4,300) to fail later when it is written."""
    import sys

    text = "[" + "9" * 2000 + "]"
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(1000)
    try:
        with pytest.raises(RecordingFormatError, match="a number with more than 1000 digits"):
            parse(text.encode())
    finally:
        sys.set_int_max_str_digits(before)
    assert parse(text.encode()) == [int("9" * 2000)]


@pytest.mark.parametrize("content", [b"", b" \n\t", "\u00a0\n".encode(), "\u3000 \x85".encode()])
def test_a_file_of_whitespace_is_empty_read_as_bytes_or_text(tmp_path: Any, content: bytes) -> None:
    from llama_vcr import CODEC, RecordingError
    from llama_vcr._store import document_of, read_document

    path = tmp_path / "blank.json"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match="the file is empty"):
        read_document(path, CODEC)
    with pytest.raises(RecordingError, match="the file is empty"):
        document_of(path, content.decode("utf-8"), CODEC)
