"""Matching rules as properties: tolerant matching's equivalences (and what it never tolerates), and
vcrpy's own ``match_on`` names agreeing with vcrpy wherever a recording keeps what vcrpy compares."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
import vcr.matchers
from hypothesis import given, settings
from hypothesis import strategies as st
from vcr.request import Request

from llama_vcr._canonical import canonical_request, match_form
from llama_vcr._tolerant import API_DEFAULTS, defaults_for, tolerant_form
from llama_vcr._vcrpy.matchers import make_matchers

CHAT = "/v1/chat/completions"
ENDPOINTS = [CHAT, "/v1/completions", "/v1/embeddings", "/v1/responses", "/api/chat", "/v1/messages"]
KEYS = st.sampled_from(["model", "content", "role", "name", "tools", "x", "y", "metadata", "input"])
SCALARS = st.none() | st.booleans() | st.integers(-3, 3) | st.text("ab ", max_size=3)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)
BODIES = st.dictionaries(KEYS, JSON, max_size=4)


def post(endpoint: str, body: Any) -> Request:
    return Request(
        "POST", "https://api.example.com" + endpoint, json.dumps(body), {"content-type": "application/json"}
    )


def key(endpoint: str, body: Any) -> str:
    return canonical_request(post(endpoint, body)).tolerant_key


def _padded(draw: st.DrawFn, value: dict[str, Any]) -> dict[str, Any]:
    out = dict(value)
    for name in draw(st.lists(st.sampled_from(["extra", "user", "suffix", "z"]), max_size=2)):
        if name not in out:
            out[name] = draw(st.sampled_from([None, ""]))
    return out


@st.composite
def with_absent_members(draw: st.DrawFn, body: Any) -> Any:
    """``body`` with members whose value is null or "" added at its top level and to the objects
    of its ``messages`` / ``input`` list (where the API reads them as "not given")."""
    if not isinstance(body, dict):
        return body
    out = _padded(draw, body)
    for key in ("messages", "input"):
        if isinstance(out.get(key), list):
            out[key] = [_padded(draw, item) if isinstance(item, dict) else item for item in out[key]]
    return out


@given(BODIES.flatmap(lambda b: st.tuples(st.just(b), with_absent_members(b))), st.sampled_from(ENDPOINTS))
def test_null_and_empty_members_are_absent_where_the_api_reads_them_so(
    pair: tuple[Any, Any], endpoint: str
) -> None:
    body, padded = pair
    assert key(endpoint, padded) == key(endpoint, body)


@pytest.mark.parametrize(
    ("recorded", "sent"),
    [
        ({"response_format": {"schema": {"x": {"const": None}}}}, {"response_format": {"schema": {"x": {}}}}),
        ({"tools": [{"parameters": {"default": None}}]}, {"tools": [{"parameters": {}}]}),
        (
            {"messages": [{"role": "assistant", "content": [{"input": {"content": ""}}]}]},
            {"messages": [{"role": "assistant", "content": [{"input": {}}]}]},
        ),
        ({"metadata": {"k": ""}}, {"metadata": {}}),
    ],
)
def test_deeper_nulls_and_empty_strings_are_values(recorded: Any, sent: Any) -> None:
    """Inside a JSON Schema, a tool's input or other user data, null and "" mean something."""
    for endpoint in ENDPOINTS:
        assert key(endpoint, {"model": "m", **recorded}) != key(endpoint, {"model": "m", **sent})


@given(BODIES, st.sampled_from(API_DEFAULTS), st.data())
def test_documented_defaults_are_absent_on_their_endpoint(
    body: Any, family: Any, data: st.DataObject
) -> None:
    suffix, defaults = family
    chosen = data.draw(st.lists(st.sampled_from(sorted(defaults)), unique=True, min_size=1))
    body = {k: v for k, v in body.items() if k not in defaults}
    assert key("/v1" + suffix, {**body, **{k: defaults[k] for k in chosen}}) == key("/v1" + suffix, body)


@given(BODIES, st.sampled_from(ENDPOINTS), st.sampled_from(["n", "stream", "temperature", "user", "x"]), JSON)
def test_a_meaningful_value_is_never_tolerated(body: Any, endpoint: str, name: str, value: Any) -> None:
    default = defaults_for(endpoint).get(name, object())
    body = {k: v for k, v in body.items() if k != name}
    form = match_form(value)
    if value is None or value == "" or (type(form) is type(default) and form == default):
        return  # (what tolerant matching does tolerate)
    assert key(endpoint, {**body, name: value}) != key(endpoint, body)


def test_the_rules_are_typed_and_per_endpoint() -> None:
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert key(CHAT, {**chat, "n": 1, "temperature": 1.0, "stream": False}) == key(CHAT, chat)
    assert key(CHAT, {**chat, "n": True}) != key(CHAT, chat)  # true is not 1
    assert key(CHAT, {**chat, "stream": 0}) != key(CHAT, chat)  # 0 is not false
    assert key(CHAT, {**chat, "n": 2}) != key(CHAT, chat)
    assert key("/api/chat", {**chat, "stream": False}) != key("/api/chat", chat)  # Ollama streams by default
    assert key("/v1/embeddings", {"input": "a", "encoding_format": "float"}) == key(
        "/v1/embeddings", {"input": "a"}
    )
    assert key("/v1/embeddings", {"input": "a", "encoding_format": "base64"}) != key(
        "/v1/embeddings", {"input": "a"}
    )
    assert key(CHAT, {"stop": [None]}) != key(CHAT, {"stop": []})  # list items are never dropped
    assert key(CHAT, {"tools": [{}]}) != key(CHAT, {"tools": []})
    assert key(CHAT, {"metadata": {}}) != key(CHAT, {})  # {} is a value


@given(BODIES, st.sampled_from(ENDPOINTS))
def test_tolerant_form_is_idempotent_and_coarser_than_exact(body: Any, endpoint: str) -> None:
    form = tolerant_form(match_form(body), endpoint)
    assert tolerant_form(form, endpoint) == form
    reordered = dict(reversed(list(body.items())))
    assert (
        canonical_request(post(endpoint, reordered)).body_key
        == canonical_request(post(endpoint, body)).body_key
    )
    assert key(endpoint, reordered) == key(endpoint, body)


# --- vcrpy's names ----------------------------------------------------------------------------------

VCRPY_NAMES = ["method", "scheme", "host", "port", "path", "query", "uri", "body", "raw_body"]
OURS = make_matchers()


@st.composite
def requests(draw: st.DrawFn) -> Request:
    """Requests whose URLs and bodies hold nothing a recording changes: no secret, no loopback host,
    no float, JSON written as ``json.dumps`` writes it."""
    scheme = draw(st.sampled_from(["http", "https"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    host = draw(st.sampled_from(["api.example.com", "b.example.org"]))
    path = draw(st.sampled_from(["/v1/chat/completions", "/v1/models", "/", "/v1/files"]))
    pairs = draw(st.lists(st.tuples(st.sampled_from(["limit", "order"]), st.sampled_from(["1", "asc", ""]))))
    query = "?" + urlencode(pairs) if pairs else ""
    body = draw(st.none() | BODIES.map(json.dumps))
    method = draw(st.sampled_from(["GET", "POST"]))
    return Request(
        method, f"{scheme}://{host}{port}{path}{query}", body, {"content-type": "application/json"}
    )


def passes(matcher: Any, r1: Request, r2: Request) -> bool:
    try:
        matcher(r1, r2)
    except AssertionError:
        return False
    return True


@settings(max_examples=300)
@given(requests(), requests(), st.sampled_from(VCRPY_NAMES))
def test_vcrpy_names_agree_with_vcrpy(r1: Request, r2: Request, name: str) -> None:
    assert passes(OURS[name], r1, r2) == passes(getattr(vcr.matchers, name), r1, r2)


def test_a_loopback_port_is_never_compared_but_others_are() -> None:
    def get(url: str) -> Request:
        return Request("GET", url, None, {})

    for name in ("port", "uri", "url"):
        assert passes(OURS[name], get("http://127.0.0.1:52731/v1/models"), get("http://127.0.0.1/v1/models"))
        assert passes(OURS[name], get("http://localhost:1/v1/models"), get("http://localhost:2/v1/models"))
        assert not passes(OURS[name], get("http://10.0.0.1:8080/v1/models"), get("http://10.0.0.1/v1/models"))
    assert not passes(OURS["host"], get("http://localhost:1/v1"), get("http://127.0.0.1:1/v1"))
