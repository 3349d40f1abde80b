"""Redaction: the one secret policy, applied before matching, before storing and before printing.

What is a secret:

- **values**: the values of secret environment variables (providers' ``secret_env``, the user's
  ``llama_vcr_secret_env`` and, by default, any variable named ``*_API_KEY``, ``*_TOKEN``,
  ``*_SECRET``, ``*_SECRET_KEY``, ``*_SECRET_ACCESS_KEY``, ``*_PASSWORD``), and the credentials a
  request carried in its ``Authorization`` / ``x-api-key`` / ``api-key`` headers; found raw,
  JSON-escaped, URL-encoded or base64-encoded (whatever the alignment: ``Basic`` auth values,
  binary parts stored as base64), in URL paths, query strings, bodies and responses;
- **names**: header and query parameter names containing ``key``, ``token``, ``secret``,
  ``password``, ``signature``, ``credential`` (and ``sig``, ``auth``, ``code`` in queries); JSON keys
  and form fields by :func:`field_kind`, a word rule that knows ``max_tokens`` from ``access_token``;
- **shapes**: provider keys (``sk-...``, ``sk-ant-...``), AWS access key ids, JWTs, private key
  blocks, GitHub / Slack / Google / Hugging Face tokens, ``Bearer`` and ``Basic`` credentials;
- URLs inside bodies (presigned ``X-Amz-Signature`` / ``sig`` links) get the URL rules.

Request headers are dropped unless allowlisted (a secret-looking name is never kept). Everything
else stays in place with the secret replaced by ``REDACTED`` (storing, matching) or masked as
``sk-pro…`` (printing): :meth:`Redactor.redaction` makes the one pass that does both. Every rule is
idempotent, because vcrpy runs ``before_record_request`` on live requests, on loaded ones and on
every match, and because a recording must match the live request it was made from.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from .. import providers as _providers
from .constants import (
    MIN_HEADER_SECRET_LENGTH,
    MIN_PATTERN_SECRET_LENGTH,
    MIN_SECRET_LENGTH,
    REDACTED,
    SecretValues,
)
from .names import AMBIGUOUS, PLAIN, SECRET, credential_like, field_kind
from .redaction import SECRET_QUERY_NAMES, Redaction
from .shapes import SECRET_SHAPES, _random_enough, _value_pattern, find_shapes, mask

#: Header names that are never written, whatever the configuration.
SECRET_HEADERS = _providers.SECRET_HEADERS
#: A header or query parameter whose name contains one of these is a secret.
SECRET_NAME_PARTS = ("key", "token", "secret", "password", "signature", "credential")
#: Environment variables whose values are never written anywhere in a recording.
SECRET_ENV = _providers.SECRET_ENV
#: Variables secret by their name alone (``llama_vcr_secret_env_patterns``; fnmatch, any case).
DEFAULT_SECRET_ENV_PATTERNS = (
    "*_API_KEY",
    "*_TOKEN",
    "*_SECRET",
    "*_SECRET_KEY",
    "*_SECRET_ACCESS_KEY",
    "*_PASSWORD",
)
#: Request headers whose values are credentials (after an auth scheme such as ``Bearer``).
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key"})
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


#: Where :meth:`Redactor.request` keeps the credentials of the headers it drops.
SECRETS_ATTR = "_llama_vcr_secrets"


@functools.lru_cache(maxsize=1024)
def _env_name_matches(name: str, patterns: tuple[str, ...]) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern.upper()) for pattern in patterns)


@dataclass(frozen=True)
class Redactor:
    """The redaction policy; ``extra_secrets`` and ``extra_headers`` come from the user's options.

    Secret environment variables are read when the policy is made (``secret_values``) and again at
    each use (``secret_env`` names, ``env_patterns`` name patterns), so a key a fixture sets is
    hidden too.
    """

    extra_secrets: frozenset[str] = field(default_factory=frozenset)
    extra_headers: frozenset[str] = field(default_factory=frozenset)
    #: Secret values (from environment variables) that must never be written: name -> value.
    secret_values: SecretValues = ()
    #: Variables whose values are secrets (8 characters or more).
    secret_env: tuple[str, ...] = SECRET_ENV
    #: Variables secret by name pattern (their values must also look random, see _random_enough).
    env_patterns: tuple[str, ...] = DEFAULT_SECRET_ENV_PATTERNS

    @classmethod
    def from_names(
        cls,
        secrets: Iterable[str] = (),
        headers: Iterable[str] = (),
        secret_env: Iterable[str] = (),
        env_patterns: Iterable[str] = DEFAULT_SECRET_ENV_PATTERNS,
    ) -> Redactor:
        names = tuple(dict.fromkeys([*SECRET_ENV, *secret_env]))
        policy = cls(_lower(secrets), _lower(headers), (), names, tuple(env_patterns))
        return cls(
            policy.extra_secrets, policy.extra_headers, policy.env_values(), names, policy.env_patterns
        )

    def env_values(self) -> SecretValues:
        """``(variable, value)`` of every secret variable: set now, or when the policy was made.

        Scanning the environment is most of a redaction pass's cost, so the answer is kept with a
        copy of the environment it was computed from (``os.environ``'s underlying dict, compared
        in C), and computed again as soon as any variable is set, changed or removed."""
        data = getattr(os.environ, "_data", None)  # (POSIX and Windows CPython; else not cached)
        cached = self.__dict__.get("_env_cache")
        if cached is not None and data is not None and cached[0] == data:
            return cast(SecretValues, cached[1])
        found = self._scan_env()
        if isinstance(data, dict):
            object.__setattr__(self, "_env_cache", (dict(data), found))
        return found

    def _scan_env(self) -> SecretValues:
        environ = os.environ
        found = list(self.secret_values)
        for name in self.secret_env:
            value = environ.get(name, "")
            if len(value) >= MIN_SECRET_LENGTH:
                found.append((name, value))
        if self.env_patterns:
            for name, value in environ.items():
                if (
                    _env_name_matches(name, self.env_patterns)
                    and name not in self.secret_env
                    and _random_enough(value)
                ):
                    found.append((name, value))
        return tuple(dict.fromkeys(found))

    def request_secrets(self, request: Any) -> SecretValues:
        """The credentials ``request`` sends in its headers (``Authorization``, ``x-api-key``...),
        remembered on the request when :meth:`request` drops its headers."""
        stashed = request.__dict__.get(SECRETS_ATTR)
        if stashed is not None:
            return tuple(stashed)
        headers = getattr(request, "headers", None)
        return _header_secrets(headers) if isinstance(headers, Mapping) else ()

    def redaction(self, extra: SecretValues = (), *, mask: bool = False) -> Redaction:
        """A pass of this policy over the secret variables' values and ``extra`` values."""
        return Redaction(self, self.env_values() + tuple(extra), mask=mask)

    def scrub(self, text: str) -> tuple[str, list[str]]:
        """``text`` with every secret variable's value (raw or encoded) replaced by ``REDACTED``,
        and the variables found: the store's last check of a serialized recording."""
        pattern, forms = _value_pattern(self.env_values())
        found: list[str] = []
        if pattern is None or pattern.search(text) is None:
            return text, found

        def hide(match: re.Match[str]) -> str:
            name = forms[match.group(0)][0]
            if name not in found:
                found.append(name)
            return REDACTED

        return pattern.sub(hide, text), found

    def mask(self, text: str) -> str:
        """``text`` as llama-vcr prints it: every secret masked (``sk-pro…``)."""
        return self.redaction(mask=True).text(text)

    def mask_value(self, value: Any) -> Any:
        """A JSON value as llama-vcr prints it: secret-named fields and secret values masked."""
        return self.redaction(mask=True).value(value)

    def field_kind(self, name: str) -> int:
        """:func:`field_kind`, with the user's ``llama_vcr_redact`` names secret."""
        return SECRET if name.lower() in self.extra_secrets else field_kind(name)

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - policies are few and live for the session
    def is_secret(self, name: str) -> bool:
        name = name.lower()
        return (
            name in SECRET_HEADERS
            or name in self.extra_secrets
            or any(part in name for part in SECRET_NAME_PARTS)
        )

    @functools.lru_cache(maxsize=1024)  # noqa: B019
    def is_secret_response_header(self, name: str) -> bool:
        """A response header never stored, by its name: the request rule (:meth:`is_secret`:
        ``set-cookie``, ``openai-organization``, names containing ``key``, ``token``...), except that
        ``tokens`` counts (``x-ratelimit-remaining-tokens``); also a secret field name
        (:func:`field_kind`: ``x-amz-security-token``) or a bare ``token``, ``session``..."""
        name = name.lower()
        return self.is_secret(name.replace("tokens", "")) or self.field_kind(name) != PLAIN

    @functools.lru_cache(maxsize=1024)  # noqa: B019
    def keeps_header(self, name: str) -> bool:
        name = name.lower()
        return (name in KEPT_REQUEST_HEADERS or name in self.extra_headers) and not self.is_secret(name)

    def headers(self, headers: Mapping[str, Any]) -> dict[str, Any]:
        """The allowlisted, non-secret headers, names lower-cased."""
        return {name.lower(): value for name, value in headers.items() if self.keeps_header(name)}

    def url(self, url: str) -> str:
        """``url`` with secret query values, any userinfo and secret values in its path hidden."""
        return self.redaction().url(url)

    def request(self, request: Any) -> Any:
        """A vcrpy ``before_record_request`` hook: redact ``request`` in place and return it.

        The credentials of the headers it drops are kept on the request (never written), so that
        its body and response are scrubbed of them too.
        """
        sdk = sdk_of(request.headers)
        if sdk:
            request.__dict__[SDK_ATTR] = sdk
        secrets = self.request_secrets(request)
        request.__dict__[SECRETS_ATTR] = secrets
        request.uri = self.redaction(secrets).url(request.uri)
        request.headers = self.headers(request.headers)
        return request


def _header_secrets(headers: Mapping[str, Any]) -> SecretValues:
    found: list[tuple[str, str]] = []
    for name, values in headers.items():
        if str(name).lower() not in CREDENTIAL_HEADERS:
            continue
        for value in values if isinstance(values, (list, tuple)) else [values]:
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            scheme, _, rest = text.strip().partition(" ")
            credential = rest.strip() if rest and scheme.lower() in ("bearer", "basic", "token") else text
            candidates = [credential]
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(credential, validate=True).decode("utf-8")
                except (binascii.Error, ValueError):
                    decoded = ""
                candidates += [decoded, decoded.partition(":")[2]]
            found += [("", item) for item in candidates if len(item) >= MIN_HEADER_SECRET_LENGTH]
    return tuple(found)


DEFAULT_REDACTOR = Redactor()


__all__ = [
    "AMBIGUOUS",
    "CREDENTIAL_HEADERS",
    "DEFAULT_REDACTOR",
    "DEFAULT_SECRET_ENV_PATTERNS",
    "KEPT_REQUEST_HEADERS",
    "MIN_PATTERN_SECRET_LENGTH",
    "MIN_SECRET_LENGTH",
    "PLAIN",
    "REDACTED",
    "SDK_ATTR",
    "SECRET",
    "SECRET_ENV",
    "SECRET_HEADERS",
    "SECRET_QUERY_NAMES",
    "SECRET_SHAPES",
    "Redaction",
    "Redactor",
    "credential_like",
    "field_kind",
    "find_shapes",
    "mask",
    "sdk_of",
]
