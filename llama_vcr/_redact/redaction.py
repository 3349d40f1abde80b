"""One pass of the redaction policy (:class:`Redaction`): the walk that hides the secrets in a request's
URL and body, a recorded document or a text (secret values raw or encoded, secret shapes, secret-named
fields and parameters, URLs inside bodies), replaced by ``REDACTED`` or masked for printing.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .constants import MIN_HEADER_SECRET_LENGTH, MIN_SECRET_LENGTH, REDACTED, SecretValues
from .names import AMBIGUOUS, PLAIN, SECRET, credential_like
from .shapes import _SHAPES, SECRET_SHAPES, _is_shape, _may_have_shape, _value_pattern, mask

if TYPE_CHECKING:  # (the policy makes its passes: named for type checkers only)
    from . import Redactor

#: Query parameters that are secrets although their names look harmless.
SECRET_QUERY_NAMES = frozenset({"sig", "auth", "code"})
#: The key of a multipart body's parts (``_canonical.parse_body``).
MULTIPART_KEY = "__multipart__"
#: Keys whose string values are base64 bytes: the ``{"__bytes__": ...}`` body marker, a multipart
#: part's ``bytes``.
BASE64_KEYS = frozenset({"__bytes__", "bytes"})

_JSON_KEY = re.compile(r'"([^"]*)":')
#: Items of a long list (a stream's chunks) :meth:`Redaction._plain` checks together.
_PLAIN_BATCH = 1024
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>\\]+")
_FORM_TEXT = re.compile(r"[\w.%+~-]+=[^&=\s]*(?:&[\w.%+~-]+=[^&=\s]*)*")


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
