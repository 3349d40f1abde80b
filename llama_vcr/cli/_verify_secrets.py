"""``llama-vcr verify``'s secret scan: what the redaction policy (``llama_vcr._redact``) would have
hidden, in a recording's text and fields.

Stored secret headers, unredacted secret query values and secret-named fields, secret environment
values, and secret-shaped values (the policy's ``SECRET_SHAPES`` plus the regex detectors of
detect-secrets, imported only here). Every message is masked by the same policy before printing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .._redact import (
    AMBIGUOUS,
    REDACTED,
    SECRET,
    SECRET_QUERY_NAMES,
    Redactor,
    credential_like,
    find_shapes,
    mask,
)

#: detect-secrets plugins ``verify`` runs: its regex detectors (not the entropy and keyword ones,
#: which flag every id and hash a recording holds).
DETECT_SECRETS_PLUGINS = (
    "AWSKeyDetector",
    "ArtifactoryDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "JwtTokenDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
#: A text -> ``(label, secret value)`` of what a detector found in it.
Detector = Callable[[str], list[tuple[str, str]]]
_detector: Detector | None = None
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>\\]+")


@contextlib.contextmanager
def secret_detector() -> Iterator[Detector]:
    """detect-secrets' regex detectors (:data:`DETECT_SECRETS_PLUGINS`), set up once for a run;
    ``check_secrets`` uses them inside this context. Without detect-secrets, it finds nothing."""
    global _detector
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.core.scan import scan_line
        from detect_secrets.settings import transient_settings
    except ImportError:  # pragma: no cover - a dependency; the policy's own shapes still apply
        yield lambda text: []
        return
    classes: dict[str, type] = get_mapping_from_secret_type_to_class()
    available = {plugin.__name__ for plugin in classes.values()}
    plugins = [{"name": name} for name in DETECT_SECRETS_PLUGINS if name in available]

    def detect(text: str) -> list[tuple[str, str]]:
        return [(_article(s.type), str(s.secret_value)) for s in scan_line(text) if s.secret_value]

    previous = _detector
    with transient_settings({"plugins_used": plugins}):
        _detector = detect
        try:
            yield detect
        finally:
            _detector = previous


def _article(kind: str) -> str:
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind} (detect-secrets)"


def _secret_fields(value: Any, redactor: Redactor, where: str) -> Iterator[str]:
    """JSON paths of secret-named fields and secret URL query values that hold an unredacted value."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}"
            kind = redactor.field_kind(str(key))
            if kind == SECRET and _holds_value(item):
                yield path
            elif kind == AMBIGUOUS and isinstance(item, str) and credential_like(item):
                if not (str(key).lower() == "token" and "logprob" in value):
                    yield path
            else:
                yield from _secret_fields(item, redactor, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_fields(item, redactor, f"{where}[{index}]")
    elif isinstance(value, str) and "://" in value:
        for url in _URL.findall(value):
            for name, item in parse_qsl(urlsplit(url).query, keep_blank_values=True):
                secret = redactor.is_secret(name) or name.lower() in SECRET_QUERY_NAMES
                if secret and item and item != REDACTED:
                    yield f"{where} (a URL's {name!r})"


def _holds_value(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value) and value != REDACTED
    if isinstance(value, dict):
        return any(_holds_value(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_value(item) for item in value)
    return False


def check_secrets(text: str, document: Mapping[str, Any] | None, redactor: Redactor) -> Iterator[str]:
    if document is not None:
        request = document["request"]
        sent, received = request.get("headers"), document["response"].get("headers")
        for name in sent if isinstance(sent, dict) else {}:
            if redactor.is_secret(str(name)):
                yield f"secret: request header {name!r} is stored"
        for name in received if isinstance(received, dict) else {}:  # (the recorder's own rule)
            if redactor.is_secret_response_header(str(name)):
                yield f"secret: response header {name!r} is stored"
        url = request.get("url")
        if isinstance(url, str):
            parts = urlsplit(url)
            if "@" in parts.netloc and not parts.netloc.startswith(f"{REDACTED}@"):
                yield "secret: the URL carries user:password credentials"
            for name, value in parse_qsl(parts.query, keep_blank_values=True):
                secret = redactor.is_secret(name) or name.lower() in SECRET_QUERY_NAMES
                if secret and value and value != REDACTED:
                    yield f"secret: URL query parameter {name!r} is not redacted"
        for part, body in (("request", request.get("body")), ("response", document["response"].get("body"))):
            for where in dict.fromkeys(_secret_fields(body, redactor, "$")):
                yield f"secret: {part} body field {where} is not redacted"
    seen: set[tuple[str, str]] = set()
    shown: list[str] = []
    for label, match in find_shapes(text):
        found = match.group(0)
        if (label, found) in seen:
            continue
        seen.add((label, found))
        shown.append(found)
        line = text.count("\n", 0, match.start()) + 1
        yield f"secret: line {line} has what looks like {label} ({mask(found)})"
    if _detector is not None:
        detected = _detector(text)
    else:
        with secret_detector() as detect:
            detected = detect(text)
    for label, found in detected:
        if any(found in other or other in found for other in shown):
            continue  # (the policy's own shapes named it already)
        shown.append(found)
        line = text.count("\n", 0, max(text.find(found), 0)) + 1
        yield f"secret: line {line} has what looks like {label} ({mask(found)})"
    for name in redactor.scrub(text)[1]:  # the values the persister scrubs before writing
        yield f"secret: contains the value of ${name}"
