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
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .. import providers as _providers
from .constants import MIN_PATTERN_SECRET_LENGTH, MIN_SECRET_LENGTH, REDACTED
from .names import AMBIGUOUS, PLAIN, SECRET, credential_like, field_kind
from .shapes import (
    _SHAPES,
    SECRET_SHAPES,
    _is_shape,
    _may_have_shape,
    _random_enough,
    _value_pattern,
    find_shapes,
    mask,
)

#: Header names that are never written, whatever the configuration.
SECRET_HEADERS = _providers.SECRET_HEADERS
#: A header or query parameter whose name contains one of these is a secret.
SECRET_NAME_PARTS = ("key", "token", "secret", "password", "signature", "credential")
#: Query parameters that are secrets although their names look harmless.
SECRET_QUERY_NAMES = frozenset({"sig", "auth", "code"})
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
#: A credential taken from a request's own headers is hidden in its body and response when this long.
MIN_HEADER_SECRET_LENGTH = 12
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


_JSON_KEY = re.compile(r'"([^"]*)":')
#: Items of a long list (a stream's chunks) :meth:`Redaction._plain` checks together.
_PLAIN_BATCH = 1024
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>\\]+")
_FORM_TEXT = re.compile(r"[\w.%+~-]+=[^&=\s]*(?:&[\w.%+~-]+=[^&=\s]*)*")


#: Where :meth:`Redactor.request` keeps the credentials of the headers it drops.
SECRETS_ATTR = "_llama_vcr_secrets"
#: The key of a multipart body's parts (``_canonical.parse_body``).
MULTIPART_KEY = "__multipart__"
#: Keys whose string values are base64 bytes: the ``{"__bytes__": ...}`` body marker, a multipart
#: part's ``bytes``.
BASE64_KEYS = frozenset({"__bytes__", "bytes"})
#: Values found by a redaction pass: ``(variable or "", value)``.
SecretValues = tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=1024)
def _env_name_matches(name: str, patterns: tuple[str, ...]) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern.upper()) for pattern in patterns)


class Redaction:
    """One pass of the policy: the secret values to hide and how to hide them.

    ``mask=False`` replaces a secret with ``REDACTED`` (what is matched and stored); ``mask=True``
    shows it as ``sk-pro…`` (what is printed). ``found`` lists the secret environment variables
    whose values this pass hid (for :class:`~llama_vcr.SecretRedactedWarning`).
    """

    def __init__(self, redactor: Redactor, values: SecretValues, *, mask: bool = False) -> None:
        self.redactor = redactor
        self.mask = mask
        self._pattern, self._forms = _value_pattern(values)
        self._values = tuple((name, value.encode("utf-8")) for name, value in values)
        self.found: list[str] = []
        #: Credentials this pass hid by their field or parameter name (to hide their echoes too).
        self.hidden: list[tuple[str, str]] = []
        self._kinds: dict[Any, int] = {}

    def _may_have_value(self, text: str) -> bool:
        return any(form in text for form in self._forms)

    def _note(self, name: str) -> None:
        if name and name not in self.found:
            self.found.append(name)

    def hide(self, secret: str) -> str:
        """How a secret-named field's value is written: ``REDACTED`` (an empty one too, so that a
        request matches whether a key was set or not), or masked for printing."""
        if not self.mask:
            if len(secret) >= MIN_HEADER_SECRET_LENGTH and secret != REDACTED:
                self.hidden.append(("", secret))
            return REDACTED
        return secret if not secret or secret == REDACTED or secret.endswith("…") else mask(secret)

    def _hide_form(self, match: re.Match[str]) -> str:
        name, raw = self._forms[match.group(0)]
        self._note(name)
        if not self.mask:
            return REDACTED
        return mask(match.group(0)) if raw else "…"

    def _hide_shape(self, match: re.Match[str]) -> str:
        value = match.group(0)
        label = SECRET_SHAPES[int((match.lastgroup or "s0")[1:])][0]
        if not _is_shape(label, value):
            return value
        for found in self._pattern.finditer(value) if self._pattern is not None else ():
            self._note(self._forms[found.group(0)][0])
        return self.hide(value)

    def scrub(self, text: str) -> str:
        """``text`` with secret-shaped values, then secret values (raw or encoded) hidden.

        Shapes come first: a ``Basic`` credential is hidden whole, whatever the length of the
        password inside it, so that it reads the same with any key.
        """
        if len(text) < MIN_SECRET_LENGTH:
            return text
        if _may_have_shape(text):
            text = _SHAPES.sub(self._hide_shape, text)
        if self._pattern is not None and self._may_have_value(text):
            text = self._pattern.sub(self._hide_form, text)
        return text

    def base64_bytes(self, encoded: str) -> str:
        """A base64 body (``{"__bytes__"}``, a multipart part's ``bytes``): secret values are
        replaced in the decoded bytes, so the text reads the same with a key of any length."""
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return self.scrub(encoded)
        hidden = data
        for name, value in self._values:
            if value in hidden:
                hidden = hidden.replace(value, REDACTED.encode("ascii"))
                self._note(name)
        if hidden == data:
            return self.scrub(encoded)
        return base64.b64encode(hidden).decode("ascii")

    def text(self, text: str) -> str:
        """A string: JSON inside it by the field rules, URLs inside it by the URL rules, then scrubbed."""
        if len(text) < MIN_SECRET_LENGTH:  # (too short to hold a secret, a URL or a secret field)
            return text
        stripped = text.strip()
        if len(stripped) > 1 and stripped[0] in "{[" and stripped[-1] in "}]":
            try:
                inner = json.loads(stripped)
            except ValueError:
                inner = None
            if isinstance(inner, (dict, list)):
                hidden = self._value(inner)
                if hidden is not inner and hidden != inner:
                    text = json.dumps(hidden, ensure_ascii=False)
        if "://" in text:
            text = _URL_IN_TEXT.sub(lambda match: self.url(match.group(0)), text)
        return self.scrub(text)

    def param(self, name: str, value: str, *, form: bool = False) -> str:
        """A query parameter's value, or (``form``) a form field's: a field is secret by the JSON
        key rule, a query parameter also when its name contains ``key``, ``token``... (as headers)."""
        redactor = self.redactor
        if (
            (not form and redactor.is_secret(name))
            or name.lower() in SECRET_QUERY_NAMES
            or redactor.field_kind(name) == SECRET
        ):
            return self.hide(value)
        if redactor.field_kind(name) == AMBIGUOUS and credential_like(value):
            return self.hide(value)
        return self.text(value)

    def url(self, url: str) -> str:
        """``url`` with userinfo, secret query values and secret values in its path hidden."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.scrub(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
        path = self.scrub(parts.path)
        fragment = self.scrub(parts.fragment)
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            hidden = [(name, self.param(name, value)) for name, value in pairs]
            if hidden != pairs:
                query = urlencode(hidden)
        if (netloc, path, query, fragment) == (parts.netloc, parts.path, parts.query, parts.fragment):
            return url
        return urlunsplit((parts.scheme, netloc, path, query, fragment))

    def body(self, body: Any, content_type: str | None = None) -> Any:
        """A parsed request body (``_canonical.parse_body``); a form-encoded one by the query rules."""
        if isinstance(body, str) and (
            "x-www-form-urlencoded" in (content_type or "") or _FORM_TEXT.fullmatch(body)
        ):
            pairs = parse_qsl(body, keep_blank_values=True)
            hidden = [(self.scrub(name), self.param(name, value, form=True)) for name, value in pairs]
            return urlencode(hidden) if hidden != pairs else body
        return self.value(body)

    def value(self, value: Any, *, secret: bool = False) -> Any:
        """A JSON value with secret-named fields, URLs and secret values hidden (a copy if changed).

        Under a secret name (``secret=True``) every string inside is hidden: ``"client_secret":
        {"value": ...}``; numbers, booleans and null stay.
        """
        if not secret and isinstance(value, list) and len(value) > _PLAIN_BATCH:
            return self._long_list(value)  # (a stream: checked a batch of chunks at a time)
        if not secret and isinstance(value, (dict, list)) and self._plain(value):
            return value
        return self._value(value, secret=secret)

    def _long_list(self, value: list[Any]) -> list[Any]:
        """:meth:`value` of a long list (a stream's chunks), a batch at a time: the text
        :meth:`_plain` checks is never the whole stream's (with its keys, a million strings)."""
        items: list[Any] = []
        for start in range(0, len(value), _PLAIN_BATCH):
            batch = value[start : start + _PLAIN_BATCH]
            items += batch if self._plain(batch) else [self._value(item) for item in batch]
        return value if all(new is old for new, old in zip(items, value, strict=True)) else items

    def _plain(self, value: Any) -> bool:
        """True if a JSON value certainly holds nothing to hide: its text (one ``json.dumps``) has no
        URL, secret value, secret shape, escaped quote (JSON in a string) and only plain keys.
        A 10,000-chunk stream is checked this way in a fraction of the time of a walk."""
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            return False
        if '\\"' in text or "://" in text or _may_have_shape(text) or self._may_have_value(text):
            return False
        keys = set(_JSON_KEY.findall(text))  # (as written: a key with an escape is read by the walk)
        return all(key != MULTIPART_KEY and "\\" not in key and self._kind(key) == PLAIN for key in keys)

    def _value(self, value: Any, *, secret: bool = False) -> Any:
        if isinstance(value, str):
            if secret:
                self.text(value)  # (notes the variables whose values it holds)
                return self.hide(value)
            return self.text(value)
        if isinstance(value, list):
            items = [self._value(item, secret=secret) for item in value]
            return value if all(new is old for new, old in zip(items, value, strict=True)) else items
        if isinstance(value, dict):
            return self._object(value, secret)
        return value

    def _kind(self, key: Any) -> int:
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kinds[key] = self.redactor.field_kind(key) if isinstance(key, str) else PLAIN
        return kind

    def _object(self, value: dict[str, Any], secret: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            kind = SECRET if secret else self._kind(key)
            new: Any
            if kind == PLAIN and (item is None or isinstance(item, (bool, int, float))):
                new = item
            elif kind == PLAIN and isinstance(item, str) and key not in BASE64_KEYS:
                new = self.text(item)
            elif kind == SECRET:
                new = self._value(item, secret=True)
            elif kind == AMBIGUOUS and isinstance(item, str) and credential_like(item):
                # a logprobs entry's "token" is text
                new = item if key.lower() == "token" and "logprob" in value else self.hide(item)
            elif key == MULTIPART_KEY and isinstance(item, list):
                new = [self._part(part) for part in item]
                new = item if all(a is b for a, b in zip(new, item, strict=True)) else new
            elif key in BASE64_KEYS and isinstance(item, str) and not self.mask:
                new = self.base64_bytes(item)
            else:
                new = self._value(item)
            new_key = self.scrub(key) if isinstance(key, str) and len(key) >= MIN_SECRET_LENGTH else key
            changed = changed or new is not item or new_key != key
            out[new_key] = new
        return out if changed else value

    def _part(self, part: Any) -> Any:
        """A multipart part: its ``text`` / ``bytes`` hidden when its field name is secret."""
        name = part.get("name") if isinstance(part, dict) else None
        if isinstance(name, str) and self.redactor.field_kind(name) == SECRET:
            return {key: self.hide(item) if key in ("text", "bytes") else item for key, item in part.items()}
        return self._value(part)


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
