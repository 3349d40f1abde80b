"""Every body form a vcrpy stub hands over (issue 10, class 1).

Requests: vcrpy keeps what each client's stub gives it (bytes, text, a list of an iterator's
chunks, aiohttp's unencoded ``json=`` value or ``data=`` form fields); each is canonicalised as the
bytes the client sends for it. Responses: a replayed body (:class:`LazyBody`) is the full
``{"string": bytes}`` dict through every access path, as each stub reads it differently.
"""

from __future__ import annotations

import copy
import io
import json
import pickle
from typing import Any

import aiohttp
import pytest
from vcr.request import Request

from llama_vcr._canonical import canonical_request, parse_body
from llama_vcr.format.replayed import LazyBody

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5}
WIRE = json.dumps(BODY).encode("utf-8")


def canonical(body: Any, headers: dict[str, Any] | None = None) -> Any:
    return canonical_request(Request("POST", "http://h/v1/chat/completions", body, headers or {})).body


@pytest.mark.parametrize(
    "form",
    [
        WIRE,
        bytearray(WIRE),
        memoryview(WIRE),
        WIRE.decode("utf-8"),
        BODY,  # aiohttp json=
        iter([WIRE[:10], WIRE[10:]]),  # an iterator vcrpy lists (requests, urllib3 chunked)
        (chunk.decode("utf-8") for chunk in [WIRE[:7], WIRE[7:]]),
        iter(list(WIRE)),  # iterating bytes gives byte values
        io.BytesIO(WIRE),
    ],
    ids=["bytes", "bytearray", "memoryview", "str", "dict", "chunks", "text-chunks", "ints", "file"],
)
def test_every_form_of_one_json_body_is_one_canonical_body(form: Any) -> None:
    assert canonical(form) == canonical(WIRE) == BODY


@pytest.mark.parametrize(
    ("value", "expected"),
    [([1, 2], [1, 2]), (["a", "b"], ["a", "b"]), ([], []), ({}, {}), (7, 7), (True, True)],
)
def test_aiohttp_json_values_other_than_objects(value: Any, expected: Any) -> None:
    assert parse_body(value) == expected == json.loads(json.dumps(value))


def test_a_chunked_body_of_no_chunks_is_empty() -> None:
    assert canonical(iter([])) is None
    assert parse_body([], chunks=True) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"a": "1", "b": "two words"},
        [("a", "1"), ("b", "two words")],
        aiohttp.FormData({"a": "1", "b": "two words"}),
    ],
    ids=["dict", "pairs", "FormData"],
)
def test_aiohttp_form_fields_are_the_urlencoded_text(fields: Any) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert canonical(fields, form if isinstance(fields, dict) else None) == "a=1&b=two+words"


def test_form_fields_redact_secret_names() -> None:
    body = canonical([("grant_type", "x"), ("client_secret", "abc123abc123abc123")])
    assert isinstance(body, str) and "abc123" not in body and "grant_type=x" in body


def test_form_fields_with_bytes_or_files_are_multipart_parts() -> None:
    upload = io.BytesIO(b"x\xffdata")
    upload.seek(1)
    body = parse_body({"purpose": "batch", "file": upload, "raw": b"text"})
    assert body == {
        "__multipart__": [
            {"name": "purpose", "text": "batch"},
            {"name": "file", "bytes": "/2RhdGE="},  # read from where the file stood
            {"name": "raw", "text": "text"},
        ]
    }
    assert upload.tell() == 1, "the file was not rewound"


def test_a_multipart_form_data_keeps_its_fields_unconsumed() -> None:
    form = aiohttp.FormData()
    form.add_field("purpose", "batch")
    form.add_field("file", b"abc", filename="a.jsonl", content_type="application/jsonl")
    assert parse_body(form) == {
        "__multipart__": [{"name": "purpose", "text": "batch"}, {"name": "file", "text": "abc"}]
    }
    assert len(form._fields) == 2  # still sendable


class Payload:
    """A body object llama-vcr cannot read (an aiohttp ``Payload`` has no public reader)."""


def test_an_unreadable_body_object_is_named_not_consumed() -> None:
    assert parse_body(Payload()) == {"__object__": f"{__name__}.Payload"}


# --- replayed response bodies ---------------------------------------------------------------------


def lazy(value: bytes = b"wire") -> tuple[LazyBody, list[int]]:
    calls: list[int] = []

    def make() -> bytes:
        calls.append(1)
        return value

    return LazyBody(make), calls


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        (lambda b: b.get("string", b""), b"wire"),  # vcrpy's aiohttp stub
        (lambda b: b["string"], b"wire"),
        (lambda b: "string" in b, True),
        (lambda b: list(b), ["string"]),
        (lambda b: list(reversed(b)), ["string"]),
        (lambda b: len(b), 1),
        (lambda b: list(b.keys()), ["string"]),
        (lambda b: list(b.values()), [b"wire"]),
        (lambda b: list(b.items()), [("string", b"wire")]),
        (lambda b: b.copy(), {"string": b"wire"}),
        (lambda b: dict(b), {"string": b"wire"}),
        (lambda b: {**b}, {"string": b"wire"}),
        (lambda b: b == {"string": b"wire"}, True),
        (lambda b: {"string": b"wire"} == b, True),  # noqa: SIM300 - the reflected comparison
        (lambda b: b != {"string": b"wire"}, False),
        (lambda b: b | {"x": 1}, {"string": b"wire", "x": 1}),
        (lambda b: {"x": 1} | b, {"x": 1, "string": b"wire"}),
        (lambda b: b.setdefault("string", b"other"), b"wire"),
        (lambda b: b.pop("string"), b"wire"),
        (lambda b: b.popitem(), ("string", b"wire")),
        (lambda b: "wire" in repr(b), True),
        (lambda b: copy.copy(b), {"string": b"wire"}),
        (lambda b: pickle.loads(pickle.dumps(b)), {"string": b"wire"}),
    ],
)
def test_a_replayed_body_is_the_full_dict_on_every_path(read: Any, expected: Any) -> None:
    body, calls = lazy()
    assert read(body) == expected
    assert calls == [1]


def test_two_replayed_bodies_compare_by_content() -> None:
    assert lazy()[0] == lazy()[0]
    assert lazy()[0] != lazy(b"other")[0]


def test_a_replayed_body_is_built_once_and_shared_by_deepcopy() -> None:
    body, calls = lazy()
    assert copy.deepcopy(body) is body
    assert body.get("string") == body["string"] == b"wire"
    del body["string"]
    assert body.get("string") is None and "string" not in body
    assert calls == [1]


def test_a_failing_build_raises_on_every_read() -> None:
    def make() -> bytes:
        raise ValueError("corrupt")

    body = LazyBody(make)
    for _ in range(2):
        with pytest.raises(ValueError, match="corrupt"):
            body.get("string")
