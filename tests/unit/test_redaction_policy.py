"""The redaction policy (``llama_vcr._redact``): which names and values are secrets, every form a
secret value takes, and the one pass used before matching, before storing and before printing."""

from __future__ import annotations

import base64
import importlib
import json
import pkgutil
import typing
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vcr.request import Request

from llama_vcr._canonical import Canonicalizer, canonical_request
from llama_vcr._redact import (
    AMBIGUOUS,
    PLAIN,
    REDACTED,
    SECRET,
    Redactor,
    field_kind,
    find_shapes,
    mask,
)
from llama_vcr._report import miss_message
from llama_vcr.format.codec import RecordingCodec

KEY = "sk-proj-Abc123def456GHI789jkl012"
ENV = "LLAMA_VCR_POLICY_TEST_API_KEY"  # secret by its name (the default *_API_KEY pattern)

SECRET_NAMES = [
    "api_key",
    "apiKey",
    "APIKey",
    "openai_api_key",
    "x-api-key",
    "client_secret",
    "clientSecret",
    "refresh_token",
    "access_token",
    "id_token",
    "github_token",
    "password",
    "passwd",
    "db_password",
    "password_hash",
    "jwt",
    "secret",
    "aws_secret_access_key",
    "secretKey",
    "private_key",
    "authorization",
    "Proxy-Authorization",
    "cookie",
    "set-cookie",
    "credentials",
    "basic_auth",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "session_token",
    "apikey",
    "accesstoken",
]
#: LLM fields that look a little like secrets and are not.
PLAIN_NAMES = [
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "input_tokens",
    "output_tokens",
    "prompt_tokens_details",
    "tokens",
    "token_ids",
    "prompt_token_ids",
    "token_count",
    "token_type",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "stop_token",
    "eos_token",
    "pad_token_id",
    "image_token",
    "next_page_token",
    "nextPageToken",
    "continuation_token",
    "prompt_cache_key",
    "idempotency_key",
    "public_key",
    "api_key_id",
    "secret_name",
    "session_id",
    "signature",
    "thoughtSignature",
    "encrypted_content",
    "keywords",
    "monkey",
    "tokenizer",
    "auth_type",
    "token_endpoint_auth",
    "content",
    "model",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_looking_field_names_are_secret(name: str) -> None:
    assert field_kind(name) == SECRET


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_llm_fields_with_token_and_key_in_their_names_are_not(name: str) -> None:
    assert field_kind(name) == PLAIN


@pytest.mark.parametrize("name", ["token", "key", "session", "auth", "sid", "sig", "Token"])
def test_bare_ambiguous_names_depend_on_the_value(name: str) -> None:
    assert field_kind(name) == AMBIGUOUS


#: Names in the SDKs' own types that are credentials (all else there must stay readable).
SDK_CREDENTIAL_FIELDS = {
    "api_key",
    "authorization",
    "client_secret",
    "domain_secrets",
    "fallback_credit_token",
    "has_refresh_token",
    "secret",
    "signing_secret",
    "tunnel_token",
}


def _sdk_field_names() -> set[str]:
    names: set[str] = set()
    for package in ("openai.types", "anthropic.types", "ollama"):
        root = importlib.import_module(package)
        modules = [root]
        for info in pkgutil.walk_packages(getattr(root, "__path__", []), package + "."):
            try:
                modules.append(importlib.import_module(info.name))
            except Exception:  # (an optional part of an SDK)
                continue
        for module in modules:
            for value in vars(module).values():
                if not isinstance(value, type):
                    continue
                fields = getattr(value, "model_fields", None)
                if isinstance(fields, dict):
                    names.update(fields)
                if typing.is_typeddict(value):
                    names.update(value.__annotations__)
    return names


def test_no_field_of_the_openai_anthropic_or_ollama_types_is_secret_unless_it_is_a_credential() -> None:
    names = _sdk_field_names()
    assert len(names) > 500  # (the SDKs were found)
    flagged = {name for name in names if field_kind(name) == SECRET}
    assert flagged <= SDK_CREDENTIAL_FIELDS, flagged - SDK_CREDENTIAL_FIELDS


def test_a_secret_named_field_is_hidden_anywhere_in_a_body_and_its_strings_only() -> None:
    body = {
        "model": "m",
        "max_tokens": 12,
        "provider_data": {"openai_api_key": "anything-at-all", "password": ""},
        "client_secret": {"value": "ek_live_123", "expires_at": 1700000000},
        "tools": [{"type": "mcp", "authorization": "oauth-token-value", "server_label": "x"}],
        "usage": {"prompt_tokens": 3, "total_tokens": 5},
    }
    hidden = Redactor().redaction().value(body)
    assert hidden["provider_data"] == {"openai_api_key": REDACTED, "password": REDACTED}
    assert hidden["client_secret"] == {"value": REDACTED, "expires_at": 1700000000}
    assert hidden["tools"][0] == {"type": "mcp", "authorization": REDACTED, "server_label": "x"}
    assert (hidden["model"], hidden["max_tokens"], hidden["usage"]) == ("m", 12, body["usage"])
    assert body["provider_data"]["openai_api_key"] == "anything-at-all"  # (a copy; the input is kept)


def test_ambiguous_names_hide_only_credential_like_values_and_never_a_logprob_token() -> None:
    body = {
        "metadata": {"key": "color", "session": "s3ss10n-0123456789abcdef"},
        "token": "tok_0123456789abcdefXYZ",
        "choices": [{"logprobs": {"content": [{"token": "abc0123456789defghij", "logprob": -0.1}]}}],
    }
    hidden = Redactor().redaction().value(body)
    assert hidden["metadata"] == {"key": "color", "session": REDACTED}
    assert hidden["token"] == REDACTED
    assert hidden["choices"] == body["choices"]


def test_secret_values_are_hidden_in_every_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)
    redaction = Redactor().redaction()
    for offset in range(3):
        prefix = "u:xy"[: offset + 1]  # Basic auth: base64 of "user:<key>", at every alignment
        encoded = base64.b64encode(f"{prefix}{KEY}".encode()).decode()
        assert KEY[3:20] not in base64.b64decode(redaction.scrub(encoded)).decode("latin-1")
        urlsafe = base64.urlsafe_b64encode(f"{prefix}{KEY}!?".encode()).decode()
        assert base64.urlsafe_b64decode(redaction.scrub(urlsafe)).find(KEY[4:18].encode()) == -1
    for form in (KEY, quote(KEY, safe=""), quote_plus(KEY), json.dumps(KEY)[1:-1]):
        assert redaction.scrub(f"say {form}!") == f"say {REDACTED}!"
    assert redaction.found == [ENV]


def test_urls_in_bodies_lose_presigned_signatures_credentials_and_userinfo() -> None:
    link = (
        "https://bucket.s3.amazonaws.com/f.png?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1&X-Amz-Signature=abc123def"
        "&X-Amz-Security-Token=FwoGZXIvYXdzEJr&X-Amz-Expires=3600"
    )
    azure = "https://acct.blob.core.windows.net/c/b?sv=2024&sig=S1GN4TUR3%3D&se=2030"
    body = {"data": [{"url": link}], "note": f"see {azure} or ftp://user:pw@host/x"}
    hidden = json.dumps(Redactor().redaction().value(body))
    for secret in ("AKIAIOSFODNN7EXAMPLE", "abc123def", "FwoGZXIvYXdzEJr", "S1GN4TUR3", "user:pw"):
        assert secret not in hidden
    assert "X-Amz-Expires=3600" in hidden and "sv=2024" in hidden and "bucket.s3.amazonaws.com" in hidden


def test_json_inside_a_string_form_fields_and_multipart_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    redaction = Redactor().redaction()
    arguments = json.dumps({"city": "Paris", "api_key": "whatever-1234"})
    hidden = redaction.value({"tool_calls": [{"function": {"arguments": arguments}}]})
    assert json.loads(hidden["tool_calls"][0]["function"]["arguments"]) == {
        "city": "Paris",
        "api_key": REDACTED,
    }
    form = redaction.body("grant_type=refresh_token&refresh_token=r-123&client_secret=c-456", None)
    assert form == f"grant_type=refresh_token&refresh_token={REDACTED}&client_secret={REDACTED}"
    multipart = {"__multipart__": [{"name": "api_key", "text": "k-1"}, {"name": "purpose", "text": "batch"}]}
    assert redaction.body(multipart) == {
        "__multipart__": [{"name": "api_key", "text": REDACTED}, {"name": "purpose", "text": "batch"}]
    }


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("key sk-ant-api03-abcdefghij0123456789klmnop here", "an OpenAI/Anthropic-style API key"),
        ("id AKIAIOSFODNN7EXAMPLE,", "an AWS access key id"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "a JSON web token",
        ),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "a private key"),
        ("Authorization: Bearer abcdef0123456789abcdef", "a bearer token"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "basic auth credentials"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "a GitHub token"),
    ],
)
def test_secret_shapes_are_found_and_hidden(text: str, label: str) -> None:
    assert label in {found for found, _ in find_shapes(text)}
    assert not find_shapes(Redactor().redaction().scrub(text))
    assert not find_shapes(Redactor().mask(text))


@pytest.mark.parametrize(
    "text",
    [
        "Basic functionality works",
        "Bearer authentication is the scheme",
        "Incorrect API key provided: sk-proj-****abcd. You can find your API key at ...",
        "sk-learn is a library",
        "the tokens_per_second were high",
    ],
)
def test_prose_and_masked_keys_are_not_secret_shapes(text: str) -> None:
    assert find_shapes(text) == []
    assert Redactor().redaction().scrub(text) == text


def test_credentials_of_the_request_headers_are_hidden_in_its_body_and_response() -> None:
    request = Request(
        "POST",
        "http://h/v1/chat/completions",
        json.dumps({"model": "m", "note": f"my key is {KEY}"}).encode(),
        {"Authorization": f"Bearer {KEY}", "content-type": "application/json"},
    )
    redactor = Redactor.from_names(env_patterns=())
    assert canonical_request(request, Canonicalizer(redactor)).body["note"] == f"my key is {REDACTED}"
    stored = redactor.request(request)  # vcrpy's before_record_request drops the header...
    assert "authorization" not in stored.headers
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}."}}
    response = {
        "status": {"code": 401, "message": ""},
        "headers": {"content-type": ["application/json"]},
        "body": {"string": json.dumps(echo).encode()},
    }
    document = RecordingCodec(Canonicalizer(redactor)).encode(stored, response, "t.py::t")
    assert KEY not in json.dumps(document)  # ...and keeps its credential to scrub the echo
    assert document["response"]["body"]["error"]["message"] == f"Incorrect API key provided: {REDACTED}."


def test_variables_named_like_secrets_are_secret_by_default_with_an_opt_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "Tok3n-value-0123456789")
    monkeypatch.setenv("MY_DB_PASSWORD", "postgres")  # too short and plain to scrub from text
    monkeypatch.setenv("MY_SETTING", "Not-a-secret-0123456789")
    text = "Tok3n-value-0123456789 postgres Not-a-secret-0123456789"
    assert Redactor.from_names().scrub(text) == (
        f"{REDACTED} postgres Not-a-secret-0123456789",
        ["MY_SERVICE_TOKEN"],
    )
    assert Redactor.from_names(env_patterns=()).scrub(text) == (text, [])
    assert Redactor.from_names(secret_env=["MY_SETTING"], env_patterns=["*_PASSWORD"]).scrub(text)[1] == [
        "MY_SETTING"
    ]


def test_a_key_set_after_the_policy_was_made_is_hidden_too(monkeypatch: pytest.MonkeyPatch) -> None:
    redactor = Redactor.from_names()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # e.g. by a fixture, after pytest_configure
    assert redactor.scrub(KEY) == (REDACTED, ["OPENAI_API_KEY"])


def test_the_environment_is_scanned_again_whenever_it_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """``env_values`` is cached against a copy of the environment: any set, change or removal of
    a variable (secret or not) is seen at the next use."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MY_SERVICE_TOKEN", raising=False)
    redactor = Redactor.from_names()
    before = redactor.env_values()
    assert redactor.env_values() is before  # (unchanged: the cached answer)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert ("OPENAI_API_KEY", KEY) in redactor.env_values()
    changed = KEY.replace("a", "b") if "a" in KEY else KEY + "z"
    monkeypatch.setenv("OPENAI_API_KEY", changed)
    assert ("OPENAI_API_KEY", changed) in redactor.env_values()
    assert ("OPENAI_API_KEY", KEY) not in redactor.env_values()
    monkeypatch.setenv("MY_SERVICE_TOKEN", "Tok3n-value-0123456789")  # by name pattern
    assert redactor.scrub("Tok3n-value-0123456789")[1] == ["MY_SERVICE_TOKEN"]
    monkeypatch.delenv("MY_SERVICE_TOKEN")
    monkeypatch.delenv("OPENAI_API_KEY")
    assert redactor.env_values() == before


def test_printing_masks_secrets_as_their_first_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)
    redactor = Redactor.from_names()
    assert redactor.mask(f"sent {KEY} and {quote(KEY)}") == "sent sk-pro… and sk-pro…"
    assert redactor.mask_value({"password": "hunter2-and-more", "n": 1}) == {"password": "hunter…", "n": 1}
    assert mask("short") == "…"


def test_the_miss_message_masks_what_the_request_carried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)
    recorded = canonical_request(Request("POST", "http://h/v1/x", b'{"q": "a"}', {}))
    sent = canonical_request(Request("POST", "http://h/v1/x", b'{"q": "b"}', {}))
    message = miss_message(
        sent,
        [(recorded, None)],
        test_id=f"t.py::t[{KEY}]",  # a parametrized id can carry a key
        directory=Path("recordings"),
        has_files=True,
        extra_paths=[],
        mode="none",
        redactor=Redactor.from_names(),
    )
    assert KEY not in message and "t.py::t[sk-pro…]" in message


def test_a_body_secret_matches_whether_the_key_is_set_different_or_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reproducer of issue 9 (attack 02): the key in a body field, then a replay in CI."""

    def canonical(key: str) -> tuple[object, ...]:
        body = {"model": "m", "messages": [], "provider_data": {"openai_api_key": key}, "user": key or "u"}
        request = Request("POST", "http://h/v1/chat/completions", json.dumps(body).encode(), {})
        monkeypatch.setenv("OPENAI_API_KEY", key)
        form = canonical_request(request, Canonicalizer(Redactor.from_names()))
        return form.method, form.endpoint, form.query, form.body_key

    recorded = canonical(KEY)
    assert KEY not in str(recorded)
    assert canonical("sk-proj-OTHER999999999999999999") == recorded
    assert canonical("")[3].count(REDACTED) == 1  # the named field; "user" is then the plain "u"


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(
                st.one_of(st.sampled_from([*SECRET_NAMES[:8], *PLAIN_NAMES[:8], "token", "url"]), st.text()),
                inner,
                max_size=4,
            ),
        ),
        max_leaves=20,
    )
)
def test_redaction_is_idempotent(value: object) -> None:
    redactor = Redactor()
    once = redactor.redaction().value(value)
    assert redactor.redaction().value(once) == once


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2099), st.sampled_from(["api_key", "note"]), st.integers(1025, 2100))
def test_a_long_stream_is_redacted_as_each_of_its_chunks_is(where: int, field: str, length: int) -> None:
    """A stream's chunks are checked a batch at a time (the whole stream is never one text): the
    result is what redacting each chunk gives, and the same list when nothing is hidden."""
    chunks = [{"id": "chatcmpl-1", "choices": [{"delta": {"content": f"word {n}"}}]} for n in range(length)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV, KEY)
        redaction = Redactor.from_names().redaction()
    assert redaction.value(chunks) is chunks
    leaky = list(chunks)
    at = where % length
    leaky[at] = {"id": "chatcmpl-1", field: KEY, "text": f"my key is {KEY}"}
    redacted = redaction.value(leaky)
    assert redacted == [redaction.value(chunk) for chunk in leaky]
    assert KEY not in json.dumps(redacted)
    assert redacted[at - 1] is leaky[at - 1]  # (what is not hidden is not copied)


@pytest.mark.parametrize("key", ["\napi_key", "api_key\x00", "a\tapi_key", 'x"api_key'])
def test_a_secret_named_key_with_an_escaped_character_is_hidden_in_a_long_stream(key: str) -> None:
    """The quick check reads keys from JSON text, where such a key is written escaped: it leaves
    them to the walk, which reads the key itself (found in review)."""
    secret = "s3cr3tVALUEabcdefgh12345678"
    redaction = Redactor.from_names().redaction()
    assert secret not in json.dumps(redaction.value({key: secret}))
    chunks: list[object] = [{"delta": {"arguments": '{"city": "Paris"}'}}]
    chunks += [{"delta": {"content": f"w{n}"}} for n in range(1, 2000)]
    chunks[1500] = {key: secret}
    assert secret not in json.dumps(redaction.value(chunks))
