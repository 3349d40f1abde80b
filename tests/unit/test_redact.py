"""Redaction of request headers and query strings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from vcr.request import Request

from llama_vcr import Redactor, canonical_request
from llama_vcr._redact import DEFAULT_REDACTOR, REDACTED, SECRET_HEADERS

NEVER_WRITTEN = [*SECRET_HEADERS, "x-goog-api-key", "x-auth-token", "my-secret", "Authorization"]


def test_only_allowlisted_headers_are_kept() -> None:
    headers = {name: "value" for name in NEVER_WRITTEN}
    headers |= {"Content-Type": "application/json", "User-Agent": "OpenAI/Python", "x-stainless-os": "Linux"}
    assert DEFAULT_REDACTOR.headers(headers) == {"content-type": "application/json"}


def test_a_secret_name_is_dropped_even_when_the_user_allowlists_it() -> None:
    redactor = Redactor.from_names(headers=["X-Tenant", "x-api-key"])
    kept = redactor.headers({"x-tenant": "t1", "x-api-key": "k", "accept": "*/*"})
    assert kept == {"x-tenant": "t1", "accept": "*/*"}


def test_secret_query_values_are_redacted_and_others_kept() -> None:
    url = "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10&api-key=abc&sig=zz"
    redacted = DEFAULT_REDACTOR.url(url)
    assert "abc" not in redacted and "zz" not in redacted
    assert "api-version=2024-10" in redacted and f"api-key={REDACTED}" in redacted


def test_user_named_secrets_are_redacted_in_queries() -> None:
    redactor = Redactor.from_names(secrets=["tenant"])
    assert redactor.url("http://h/v1/x?tenant=acme&a=1") == f"http://h/v1/x?tenant={REDACTED}&a=1"


def test_userinfo_in_url_is_redacted() -> None:
    assert DEFAULT_REDACTOR.url("https://user:pw@host/v1/models") == f"https://{REDACTED}@host/v1/models"


@given(
    st.dictionaries(
        st.sampled_from(["key", "api_key", "q", "token", "v", "sig"]), st.text(min_size=1), max_size=5
    )
)
def test_redaction_is_idempotent_and_never_causes_a_miss(params: dict[str, str]) -> None:
    from urllib.parse import urlencode

    url = "https://api.example.com/v1/embeddings?" + urlencode(params)
    once = DEFAULT_REDACTOR.url(url)
    assert DEFAULT_REDACTOR.url(once) == once
    live = Request("POST", url, b"{}", {"authorization": "Bearer sk-live"})
    stored = DEFAULT_REDACTOR.request(Request("POST", url, b"{}", {"authorization": "Bearer sk-live"}))
    assert canonical_request(live).query == canonical_request(stored).query
    assert "authorization" not in stored.headers
