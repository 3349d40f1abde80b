"""The canonical request form and llama-stack's file-name hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import assume, given
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


def _key(body: object) -> str:
    return canonical_request(_request(json.dumps(body).encode())).body_key


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_match_at_seven_significant_digits(x: float) -> None:
    assert _key({"temperature": x}) == _key({"temperature": float(f"{x:.7g}")})


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_that_differ_in_seven_significant_digits_never_match(x: float, y: float) -> None:
    if float(f"{x:.7g}") != float(f"{y:.7g}"):
        assert _key({"temperature": x}) != _key({"temperature": y})


@pytest.mark.parametrize(
    ("sent", "recorded", "match"),
    [
        (0.7, 0.70000001, True),
        (0.7, 0.699999988079071, True),  # a float32 round trip
        (0.3, 0.1 + 0.2, True),
        (1, 1.0, True),
        (0.000001, 0.000004, False),
        (0.7, 0.7000001, False),
        (123456789, 123456788, False),  # integers are exact
        (True, 1, False),
    ],
)
def test_number_tolerance(sent: object, recorded: object, match: bool) -> None:
    assert (_key({"x": sent}) == _key({"x": recorded})) is match


def test_the_stored_body_is_exactly_what_was_sent() -> None:
    body = {"messages": [{"content": "Convert 0.000001 BTC"}], "temperature": 0.123456789}
    canonical = canonical_request(_request(json.dumps(body).encode()))
    assert canonical.body == body


def test_a_changed_decimal_inside_a_string_is_another_request_with_the_same_name() -> None:
    one = canonical_request(_request(b'{"content": "Convert 0.000001 BTC"}'))
    four = canonical_request(_request(b'{"content": "Convert 0.000004 BTC"}'))
    assert one.body_key != four.body_key
    # the file name still follows llama-stack's recipe (decimals in strings rounded): one digest
    assert (
        one.hash("t")
        == four.hash("t")
        == request_hash("POST", one.endpoint, {"content": "Convert 0.00000 BTC"}, "t")
    )


#: Strings rich in decimals (the old rule rewrote them), and any other text.
prompts = (
    st.lists(st.from_regex(r"\A-?\d{1,3}\.\d{1,8}\Z") | st.text(" x", max_size=2), max_size=4).map("".join)
    | st.text()
)


@given(prompts, prompts)
def test_different_strings_never_share_a_key_and_are_stored_as_sent(a: str, b: str) -> None:
    first = canonical_request(_request(json.dumps({"messages": [{"content": a}]}).encode()))
    second = canonical_request(_request(json.dumps({"messages": [{"content": b}]}).encode()))
    assume("REDACTED" not in first.body_key + second.body_key)  # (a secret redaction hides)
    assert first.body == {"messages": [{"content": a}]} and second.body == {"messages": [{"content": b}]}
    assert (first.body_key == second.body_key) is (a == b)


@given(prompts, prompts)
def test_different_text_bodies_never_share_a_key(a: str, b: str) -> None:
    def form(text: str) -> object:
        return canonical_request(
            Request("POST", "http://h/v1/x", text.encode(), {"content-type": "text/plain"})
        )

    assume(a != b and _not_json(a) and _not_json(b))  # (text that is JSON is parsed as JSON)
    first, second = form(a), form(b)
    assume("REDACTED" not in first.body_key + second.body_key)
    assert (first.body, second.body) == (a or None, b or None)
    assert first.body_key != second.body_key


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def test_a_recording_written_by_the_old_rule_still_replays_what_it_stored() -> None:
    stored = {"messages": [{"content": "Convert 0.00000 BTC"}], "temperature": 0.12346}
    document = {
        "test_id": "t",
        "request": {"method": "POST", "url": "http://h/v1/chat/completions", "body": stored},
    }
    assert recording_name(document) == request_hash("POST", "/v1/chat/completions", stored, "t") + ".json"
    live_old_rule = _request(json.dumps(stored).encode())
    assert canonical_request(live_old_rule).body == stored
    # ...but a live prompt of "0.000001" is another request now: a miss, re-record once
    assert _key({"messages": [{"content": "Convert 0.000001 BTC"}], "temperature": 0.12346}) != (
        canonical_request(live_old_rule).body_key
    )


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("http://127.0.0.1:52731/v1/chat/completions", "http://127.0.0.1/v1/chat/completions"),
        ("http://localhost:8000/v1/x?a=1", "http://localhost/v1/x?a=1"),
        ("http://[::1]:11434/api/chat", "http://[::1]/api/chat"),
        ("http://127.0.0.1/v1/x", "http://127.0.0.1/v1/x"),
        ("https://api.example.com:8443/v1/x", "https://api.example.com:8443/v1/x"),
        ("http://10.0.0.5:8000/v1/x", "http://10.0.0.5:8000/v1/x"),
    ],
)
def test_a_loopback_port_is_left_out_of_the_stored_url(url: str, stored: str) -> None:
    assert canonical_request(_request(b"{}", url)).url == stored


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
