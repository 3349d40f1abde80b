"""Redaction: which request headers are kept and which query values are hidden.

Request headers are dropped unless allowlisted, and a secret-looking name is never kept even if
allowlisted. Query parameters are kept (they can select behaviour, e.g. ``api-version``) but the
values of secret-looking ones become ``REDACTED``. Every function here is idempotent, because
vcrpy runs ``before_record_request`` on live requests, on loaded ones and on every match.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from . import providers as _providers

REDACTED = "REDACTED"

#: Header names that are never written, whatever the configuration.
SECRET_HEADERS = _providers.SECRET_HEADERS
#: A header or query parameter whose name contains one of these is a secret.
SECRET_NAME_PARTS = ("key", "token", "secret", "password", "signature", "credential")
#: Query parameters that are secrets although their names look harmless.
SECRET_QUERY_NAMES = frozenset({"sig", "auth", "code"})
#: Environment variables whose values are never written anywhere in a recording.
SECRET_ENV = _providers.SECRET_ENV
#: Shorter values are too likely to occur by chance to be scrubbed from text.
MIN_SECRET_LENGTH = 8
#: Request headers stored in a recording by default (all else is dropped).
KEPT_REQUEST_HEADERS = _providers.KEPT_REQUEST_HEADERS


#: Where a redacted request keeps the SDK it was sent by (its User-Agent is not stored).
SDK_ATTR = "_llama_vcr_sdk"
_SDK_AGENT = re.compile(r"^[A-Za-z][\w.-]*/[\w.-]+(?: \d[\w.-]*)?")


def sdk_of(headers: Mapping[str, Any]) -> str | None:
    """The SDK and version from a User-Agent (``OpenAI/Python 3.57.0``, ``ollama-python/0.6.3``)."""
    agent = next((value for name, value in headers.items() if name.lower() == "user-agent"), None)
    match = _SDK_AGENT.match(agent if isinstance(agent, str) else "")
    return match.group(0) if match else None


def _lower(names: Iterable[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


@dataclass(frozen=True)
class Redactor:
    """A redaction policy; ``extra_secrets`` and ``extra_headers`` come from the user's options."""

    extra_secrets: frozenset[str] = field(default_factory=frozenset)
    extra_headers: frozenset[str] = field(default_factory=frozenset)
    #: Secret values (from environment variables) that must never be written: name -> value.
    secret_values: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_names(
        cls, secrets: Iterable[str] = (), headers: Iterable[str] = (), secret_env: Iterable[str] = ()
    ) -> Redactor:
        values = tuple(
            (name, value)
            for name in dict.fromkeys([*SECRET_ENV, *secret_env])
            if len(value := os.environ.get(name, "")) >= MIN_SECRET_LENGTH
        )
        return cls(_lower(secrets), _lower(headers), values)

    def scrub(self, text: str) -> tuple[str, list[str]]:
        """``text`` with every secret value replaced by ``REDACTED``, and the variables found."""
        found = []
        for name, value in self.secret_values:
            for form in dict.fromkeys((value, json.dumps(value)[1:-1], quote(value, safe=""))):
                if form in text:
                    text = text.replace(form, REDACTED)
                    if name not in found:
                        found.append(name)
        return text, found

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - policies are few and live for the session
    def is_secret(self, name: str) -> bool:
        name = name.lower()
        return (
            name in SECRET_HEADERS
            or name in self.extra_secrets
            or any(part in name for part in SECRET_NAME_PARTS)
        )

    @functools.lru_cache(maxsize=1024)  # noqa: B019
    def keeps_header(self, name: str) -> bool:
        name = name.lower()
        return (name in KEPT_REQUEST_HEADERS or name in self.extra_headers) and not self.is_secret(name)

    def headers(self, headers: Mapping[str, Any]) -> dict[str, Any]:
        """The allowlisted, non-secret headers, names lower-cased."""
        return {name.lower(): value for name, value in headers.items() if self.keeps_header(name)}

    def url(self, url: str) -> str:
        """``url`` with secret query values (and any userinfo password) replaced by ``REDACTED``."""
        if "?" not in url and "@" not in url:
            return url
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
        if not parts.query and netloc == parts.netloc:
            return url
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        hidden = [
            (name, REDACTED if self.is_secret(name) or name.lower() in SECRET_QUERY_NAMES else value)
            for name, value in pairs
        ]
        query = urlencode(hidden) if hidden != pairs else parts.query
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

    def request(self, request: Any) -> Any:
        """A vcrpy ``before_record_request`` hook: redact ``request`` in place and return it."""
        sdk = sdk_of(request.headers)
        if sdk:
            request.__dict__[SDK_ATTR] = sdk
        request.uri = self.url(request.uri)
        request.headers = self.headers(request.headers)
        return request


DEFAULT_REDACTOR = Redactor()
