"""The canonical request form and llama-stack's file-name hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vcr.request import Request

from llama_vcr import canonical_request, normalize_body, recording_name, request_hash
from llama_vcr._canonical import parse_body

SEED = "responses/recordings/3e85d726f8264678af4b790643e62ec7480fd71c5a581a7b898d8c721cafacda.json"

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _request(body: bytes, url: str = "http://127.0.0.1:1234/v1/chat/completions") -> Request:
    return Request("POST", url, body, {"content-type": "application/json"})


def test_seed_file_name_rehashes_from_its_content(corpus_dir: Path) -> None:
    document = json.loads((corpus_dir / SEED).read_text())
    assert recording_name(document) == Path(SEED).name


def test_corpus_files_marked_verifies_rehash(corpus_dir: Path) -> None:
    manifest = (corpus_dir / "MANIFEST.txt").read_text().splitlines()
    rows = [line.split("\t") for line in manifest if line.endswith("\tinference\tVERIFIES")]
    assert len(rows) >= 20
    for rel_path, _, _ in rows:
        document = json.loads((corpus_dir / rel_path).read_text())
        body = normalize_body(document["request"]["body"])
        assert body == document["request"]["body"], rel_path
        name = Path(rel_path).name
        if name.startswith("models-"):  # models-<hash>-<8 hex of the model ids>.json
            name = name.split("-")[1] + ".json"
        assert recording_name(document) == name, rel_path


def test_hash_is_llama_stacks_formula() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    import hashlib

    key = {"method": "POST", "endpoint": "/v1/chat/completions", "body": body, "test_id": "t.py::x"}
    expected = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    assert request_hash("post", "/v1/chat/completions", body, "t.py::x") == expected


@given(json_values)
def test_normalize_is_idempotent(value: object) -> None:
    once = normalize_body(value)
    assert normalize_body(once) == once


@given(st.dictionaries(st.text(max_size=6), json_scalars, min_size=2, max_size=6))
def test_key_order_and_whitespace_do_not_change_the_canonical_form(body: dict) -> None:
    a = _request(json.dumps(body).encode())
    b = _request(json.dumps(dict(reversed(list(body.items()))), indent=3).encode())
    assert canonical_request(a).body_key == canonical_request(b).body_key


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.floats(min_value=-4e-7, max_value=4e-7))
def test_float_noise_below_five_places_is_ignored(x: float, noise: float) -> None:
    x = round(x, 5) + 0.000002  # keep away from a rounding boundary
    a = canonical_request(_request(json.dumps({"temperature": x}).encode()))
    b = canonical_request(_request(json.dumps({"temperature": x + noise}).encode()))
    assert a.body_key == b.body_key


def test_long_decimals_inside_strings_are_rounded() -> None:
    assert normalize_body({"q": "score 0.123456789 and 1.5"}) == {"q": "score 0.12346 and 1.5"}


def test_host_port_and_scheme_are_not_part_of_the_canonical_form() -> None:
    a = canonical_request(_request(b"{}", "http://127.0.0.1:1/v1/embeddings"))
    b = canonical_request(_request(b"{}", "https://api.openai.com/v1/embeddings"))
    assert (a.endpoint, a.body_key) == (b.endpoint, b.body_key)
    assert a.hash("t") == b.hash("t")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        (b"", None),
        (b'{"a": 1}', {"a": 1}),
        (b"plain text", "plain text"),
        (b"\xff\x00", {"__bytes__": "/wA="}),
    ],
)
def test_body_parsing(raw: bytes | None, expected: object) -> None:
    assert parse_body(raw) == expected


def test_canonical_form_is_cached_and_invalidated_when_the_body_changes() -> None:
    request = _request(b'{"model": "a"}')
    assert canonical_request(request).model == "a"
    request.body = b'{"model": "b"}'
    assert canonical_request(request).model == "b"
