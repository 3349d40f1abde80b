"""Normalisation of volatile response fields, the live -> stable id map, and body rules."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from vcr.request import Request

from llama_vcr import CODEC
from llama_vcr._canonical import BodyRules, Canonicalizer, canonical_request
from llama_vcr._normalize import IdMap, Normalizer
from llama_vcr.providers._provider import EPOCH
from tests.unit.edge_support import edge_response

BASE = "rec-0123456789ab"


def chunk(cid: str, call: str | None = None) -> dict:
    delta: dict = {"content": "x"}
    if call:
        delta["tool_calls"] = [{"index": 0, "id": call, "type": "function", "function": {"name": "f"}}]
    return {
        "__type__": "openai.types.chat.chat_completion_chunk.ChatCompletionChunk",
        "__data__": {
            "id": cid,
            "created": 1732,
            "system_fingerprint": "fp_9",
            "obfuscation": "a8Xz",
            "choices": [{"index": 0, "delta": delta}],
        },
    }


def test_ids_become_stable_in_order_and_are_remembered() -> None:
    ids = IdMap()
    body = [chunk("chatcmpl-1", call="call_A"), chunk("chatcmpl-1")]
    out = Normalizer().response(body, ids, BASE, set())
    data = [c["__data__"] for c in out]
    assert [d["id"] for d in data] == [BASE, BASE]
    assert data[0]["choices"][0]["delta"]["tool_calls"][0]["id"] == f"{BASE}-2"
    assert (data[0]["created"], data[0]["system_fingerprint"], data[0]["obfuscation"]) == (0, "fp_rec", "")
    assert ids.get("chatcmpl-1") == BASE and ids.get("call_A") == f"{BASE}-2"


def test_values_the_request_sent_are_not_treated_as_new_ids() -> None:
    body = {"id": "resp_new", "previous_response_id": "resp_old", "metadata": {"user_id": "u-7"}}
    ids = IdMap()
    ids.add("resp_old", "rec-aaaaaaaaaaaa")
    out = Normalizer().response(body, ids, BASE, {"u-7"})
    assert out == {"id": BASE, "previous_response_id": "rec-aaaaaaaaaaaa", "metadata": {"user_id": "u-7"}}


def test_models_and_ollama_fields() -> None:
    model = {
        "__type__": "openai.types.model.Model",
        "__data__": {"id": "gpt-4o", "created": 5, "object": "model"},
    }
    ollama = {
        "model": "llama3",
        "created_at": "2025-10-08T12:40:47.43Z",
        "total_duration": 123,
        "eval_count": 9,
    }
    out = Normalizer().response({"data": [model], "x": ollama}, IdMap(), BASE, set())
    assert out["data"] == [model]
    assert out["x"] == {"model": "llama3", "created_at": EPOCH, "total_duration": 0, "eval_count": 9}


def test_stable_bodies_are_left_alone() -> None:
    body = {"id": BASE, "created": 0, "items": [{"id": f"{BASE}-2"}]}
    assert Normalizer().response(body, IdMap(), "rec-ffffffffffff", set()) == body


def test_configured_fields() -> None:
    normalizer = Normalizer.configured(extra=["trace"], keep=["system_fingerprint", "id"])
    out = normalizer.response(
        {"id": "x1", "trace": "t", "n": {"trace": 3}, "system_fingerprint": "fp"}, IdMap(), BASE, set()
    )
    assert out == {"id": "x1", "trace": "", "n": {"trace": 0}, "system_fingerprint": "fp"}


def test_requests_are_canonicalised_through_the_id_map() -> None:
    ids = IdMap()
    ids.add("call_live", "rec-aaaaaaaaaaaa-2")
    ids.add("file-live", "rec-bbbbbbbbbbbb")
    body = {"messages": [{"role": "tool", "tool_call_id": "call_live", "content": "call_live"}]}
    request = Request("GET", "http://h/v1/files/file-live", json.dumps(body).encode(), {})
    canonical = canonical_request(request, Canonicalizer(), ids)
    assert canonical.endpoint == "/v1/files/rec-bbbbbbbbbbbb"
    assert canonical.body["messages"][0] == {
        "role": "tool",
        "tool_call_id": "rec-aaaaaaaaaaaa-2",
        "content": "rec-aaaaaaaaaaaa-2",
    }
    replayed = Request("GET", "http://h/v1/files/rec-bbbbbbbbbbbb", json.dumps(canonical.body).encode(), {})
    assert canonical_request(replayed, Canonicalizer(), ids).body_key == canonical.body_key


def test_body_rules_drop_and_replace_paths() -> None:
    rules = BodyRules.from_config(["user", "messages.*.name", "stream_options"], {"metadata.trace_id": "T"})
    body = {
        "user": "u",
        "stream_options": {"include_usage": True},
        "metadata": {"trace_id": "9", "k": 1},
        "messages": [{"role": "user", "name": "a", "content": "x"}, {"role": "user", "content": "y"}],
    }
    assert rules.apply(body) == {
        "metadata": {"trace_id": "T", "k": 1},
        "messages": [{"role": "user", "content": "x"}, {"role": "user", "content": "y"}],
    }
    assert body["user"] == "u"  # the input is not mutated


@given(
    st.recursive(
        st.integers() | st.text(max_size=3),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from("abc"), c, max_size=3),
        max_leaves=12,
    )
)
def test_body_rules_are_idempotent(body: object) -> None:
    rules = BodyRules.from_config(["a", "*.b", "c.*.a"], {"b.c": 1})
    once = rules.apply(body)
    assert rules.apply(once) == once


def test_live_ids_quoted_in_error_messages_are_replaced() -> None:
    ids = IdMap()
    ids.add("file-Abc123xyz", "rec-aaaaaaaaaaaa")
    error = {"error": {"message": "No such File object: file-Abc123xyz", "type": "invalid_request_error"}}
    assert ids.apply_text(error) == {
        "error": {"message": "No such File object: rec-aaaaaaaaaaaa", "type": "invalid_request_error"}
    }


# --- edge cases found in review: each once lost data, crashed, or broke replay ---


def test_ids_sent_back_in_a_query_string_are_mapped() -> None:
    ids = IdMap()
    ids.add("file-live123", "rec-aaaaaaaaaaaa")
    live = canonical_request(
        Request("GET", "http://h/v1/files?after=file-live123&limit=2", None, {}), Canonicalizer(), ids
    )
    replay = canonical_request(
        Request("GET", "http://h/v1/files?limit=2&after=rec-aaaaaaaaaaaa", None, {}), Canonicalizer(), ids
    )
    assert live.query == replay.query and "file-live123" not in live.url


def test_model_listings_keep_their_ids_even_untyped() -> None:
    listing = {
        "data": [{"id": "claude-sonnet-4-5", "type": "model", "display_name": "Claude"}],
        "has_more": False,
    }
    request = Request("GET", "http://h/v1/models", None, {"user-agent": "Anthropic/Python 0.69.0"})
    document = CODEC.encode(request, edge_response(json.dumps(listing).encode(), "application/json"), None)
    assert document["response"]["body"]["data"][0]["id"] == "claude-sonnet-4-5"


def test_values_the_test_sent_earlier_are_never_turned_into_ids() -> None:
    ids = IdMap()
    first = Request(
        "POST", "http://h/v1/responses", json.dumps({"metadata": {"session_id": "sess-42"}}).encode(), {}
    )
    CODEC.encode(first, edge_response(b'{"id": "resp_1"}', "application/json"), None, ids=ids)
    echo = Request("GET", "http://h/v1/responses/resp_1", None, {})
    body = json.dumps({"id": "resp_1", "metadata": {"session_id": "sess-42"}}).encode()
    document = CODEC.encode(echo, edge_response(body, "application/json"), None, ids=ids)
    assert document["response"]["body"]["__data__"]["metadata"]["session_id"] == "sess-42"  # (a Response)


# --- which ids are mapped: the ones this test received, wherever they are sent back -----------------

ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
live_ids = st.text(ID_CHARS, min_size=8, max_size=16).filter(lambda s: not s.startswith("rec-"))
separators = st.text(" .,:;/()'\"\n?!", min_size=1, max_size=3)


def test_an_id_sent_back_inside_a_longer_string_is_mapped() -> None:
    ids = IdMap()
    ids.add("file-abc123XYZ", "rec-aaaaaaaaaaaa")
    body = {"messages": [{"content": "Summarise file-abc123XYZ, then file-abc123XYZd or xfile-abc123XYZ."}]}
    assert ids.apply(body) == {
        "messages": [{"content": "Summarise rec-aaaaaaaaaaaa, then file-abc123XYZd or xfile-abc123XYZ."}]
    }


def test_the_longest_known_id_wins() -> None:
    ids = IdMap()
    ids.add("file-abc12345", "rec-aaaaaaaaaaaa")
    assert ids.apply("see file-abc12345-2") == "see file-abc12345-2"  # another id, not this one
    ids.add("file-abc12345-2", "rec-bbbbbbbbbbbb")
    assert ids.apply("see file-abc12345-2 and file-abc12345") == "see rec-bbbbbbbbbbbb and rec-aaaaaaaaaaaa"


@given(
    st.lists(live_ids, min_size=1, max_size=4, unique=True),
    st.lists(live_ids, max_size=4),
    st.lists(st.tuples(st.integers(0, 7), separators), max_size=8),
)
def test_id_replacement_is_boundary_safe_and_never_touches_unknown_ids(
    known: list[str], unknown: list[str], picks: list[tuple[int, str]]
) -> None:
    ids = IdMap()
    stable = {live: f"rec-{n:012d}" for n, live in enumerate(known)}
    for live, replacement in stable.items():
        ids.add(live, replacement)
    tokens = known + [u for u in unknown if u not in stable]
    chosen = [(tokens[i % len(tokens)], sep) for i, sep in picks]
    text = "".join(token + sep for token, sep in chosen)
    expected = "".join(stable.get(token, token) + sep for token, sep in chosen)
    assert ids.apply({"content": text}) == {"content": expected}
    unknown_only = "".join(u + " " for u in unknown if u not in stable)
    assert ids.apply(unknown_only) == unknown_only


@given(st.dictionaries(st.sampled_from(["file_id", "vector_store_id", "assistant_id", "item_id"]), live_ids))
def test_references_to_ids_this_test_never_received_are_left_as_they_are(refs: dict[str, str]) -> None:
    body = {"id": "resp_new0001", "output": [{"annotations": [{"type": "file_citation", **refs}]}]}
    out = Normalizer().response(json.loads(json.dumps(body)), IdMap(), BASE, set())
    assert out["output"] == body["output"] and out["id"] == BASE


def test_a_pre_provisioned_file_in_a_citation_keeps_its_id_and_an_uploaded_one_is_mapped() -> None:
    ids = IdMap()
    ids.add("file-uploaded1", "rec-aaaaaaaaaaaa")
    citations = [
        {"type": "file_citation", "file_id": "file-provisioned", "index": 3},
        {"type": "file_citation", "file_id": "file-uploaded1", "index": 9},
    ]
    body = {"id": "resp_1234567", "output": [{"id": "msg_1234567", "content": [{"annotations": citations}]}]}
    out = Normalizer().response(body, ids, BASE, set())
    annotations = out["output"][0]["content"][0]["annotations"]
    assert [a["file_id"] for a in annotations] == ["file-provisioned", "rec-aaaaaaaaaaaa"]
    assert (out["id"], out["output"][0]["id"]) == (BASE, f"{BASE}-2")
    assert "file-provisioned" not in ids


def test_a_reference_to_an_id_introduced_later_in_the_same_response_is_mapped() -> None:
    body = {"first_id": "file-zzz00001", "data": [{"id": "file-zzz00001"}], "last_id": "file-zzz00001"}
    out = Normalizer().response(body, IdMap(), BASE, set())
    assert out == {"first_id": BASE, "data": [{"id": BASE}], "last_id": BASE}


def test_call_ids_and_request_ids_are_introduced_like_ids() -> None:
    body = {
        "id": "resp_1234567",
        "output": [{"id": "fc_1234567", "type": "function_call", "call_id": "call_1234567"}],
    }
    out = Normalizer().response(body, IdMap(), BASE, set())
    assert out["output"][0] == {"id": f"{BASE}-2", "type": "function_call", "call_id": f"{BASE}-3"}
    error = {"type": "error", "error": {"type": "not_found_error"}, "request_id": "req_011CXyz"}
    assert Normalizer().response(error, IdMap(), BASE, set())["request_id"] == BASE


def test_a_listing_introduces_no_ids() -> None:
    ids = IdMap()
    ids.add("file-uploaded1", "rec-aaaaaaaaaaaa")
    listing = {
        "object": "list",
        "data": [{"id": "file-uploaded1"}, {"id": "file-provisioned"}],
        "first_id": "file-uploaded1",
        "last_id": "file-provisioned",
    }
    out = Normalizer().response(listing, ids, BASE, set(), introduce=False)
    assert out["data"] == [{"id": "rec-aaaaaaaaaaaa"}, {"id": "file-provisioned"}]
    assert (out["first_id"], out["last_id"]) == ("rec-aaaaaaaaaaaa", "file-provisioned")


def test_known_ids_quoted_in_response_text_are_mapped() -> None:
    ids = IdMap()
    ids.add("file-uploaded1", "rec-aaaaaaaaaaaa")
    body = {"id": "chatcmpl-1234567", "choices": [{"message": {"content": "Summary of file-uploaded1: ok"}}]}
    out = Normalizer().response(body, ids, BASE, set())
    assert out["choices"][0]["message"]["content"] == "Summary of rec-aaaaaaaaaaaa: ok"


def test_one_stable_field_exempts_one_id_key() -> None:
    ids = IdMap()
    ids.add("file-uploaded1", "rec-aaaaaaaaaaaa")
    normalizer = Normalizer.configured(keep=["file_id"])
    body = {"id": "resp_1234567", "file_id": "file-uploaded1", "n": {"file_id": "file-other123"}}
    assert normalizer.response(body, ids, BASE, set()) == {
        "id": BASE,
        "file_id": "file-uploaded1",
        "n": {"file_id": "file-other123"},
    }
    request = Request("POST", "http://h/v1/x", json.dumps({"file_id": "file-uploaded1"}).encode(), {})
    assert canonical_request(request, Canonicalizer(), ids).body == {"file_id": "rec-aaaaaaaaaaaa"}


_ID_TEXT = st.text(alphabet="ab-_.:1 ", min_size=0, max_size=30)


@given(st.lists(st.text(alphabet="ab-_.:1", min_size=8, max_size=12), max_size=6, unique=True), _ID_TEXT)
def test_ids_inside_text_are_replaced_as_one_boundary_safe_alternation_would(
    ids: list[str], text: str
) -> None:
    """The token lookup (linear as the map grows) gives what one regex alternation of every known
    id, longest first, between non-id characters, gives (the rule it replaced)."""
    import re

    from llama_vcr._normalize import MIN_INNER_ID, IdMap

    ids_map = IdMap()
    for number, live in enumerate(ids):
        ids_map.add(live, f"rec-{number}")
    text = "".join(f"{part} {ids[len(part) % len(ids)]} " for part in text.split(" ")) if ids else text
    expected = ids_map.get(text)
    if expected is None:
        inner = sorted((i for i in ids if len(i) >= MIN_INNER_ID), key=len, reverse=True)
        if inner and len(text) >= MIN_INNER_ID:
            alternation = "|".join(map(re.escape, inner))
            pattern = re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])")
            expected = pattern.sub(lambda match: ids_map.get(match.group(0)) or "", text)
        else:
            expected = text
    assert ids_map.replace(text) == expected
