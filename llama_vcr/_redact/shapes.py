"""Secret shapes (provider keys, AWS ids, JWTs, private keys, bearer tokens), masking for printing,
and the encodings a secret value can take (raw, JSON-escaped, URL-encoded, base64).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from .constants import MIN_PATTERN_SECRET_LENGTH, MIN_SECRET_LENGTH, REDACTED

# --- secret shapes ---------------------------------------------------------------------------------

#: Values that are secrets by their shape alone, wherever they are: ``(label, pattern)``. ``verify``
#: flags them; redaction hides them. None can match ``REDACTED`` or a masked value.
SECRET_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "a private key",
        re.compile(r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----[^\"]*?-----END[A-Z ]{0,40}PRIVATE KEY-----"),
    ),
    (
        "an OpenAI/Anthropic-style API key",
        re.compile(r"(?<![A-Za-z0-9_-])sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"),
    ),
    ("an AWS access key id", re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])")),
    (
        "a JSON web token",
        re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
    ("a GitHub token", re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{30,}")),
    ("a Slack token", re.compile(r"(?<![A-Za-z0-9])xox[abprse]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}")),
    ("a Hugging Face token", re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}")),
    ("a Stripe key", re.compile(r"(?<![A-Za-z0-9])[rs]k_(?:live|test)_[0-9A-Za-z]{20,}")),
    ("a SendGrid key", re.compile(r"(?<![A-Za-z0-9])SG\.[\w-]{22}\.[\w-]{43}")),
    ("an npm token", re.compile(r"(?<![A-Za-z0-9])npm_[A-Za-z0-9]{36}")),
    ("a PyPI token", re.compile(r"(?<![A-Za-z0-9])pypi-AgEIcHlwaS5vcmc[\w-]{50,}")),
    ("a bearer token", re.compile(r"(?<=Bearer )[A-Za-z0-9._~+/=-]*\d[A-Za-z0-9._~+/=-]*", re.IGNORECASE)),
    ("basic auth credentials", re.compile(r"(?<=Basic )[A-Za-z0-9+/]{6,}={0,2}", re.IGNORECASE)),
)
#: What every shape contains: a cheap test (``str.find``, much faster than a regex alternation).
_SHAPE_HINTS = (
    "sk-",
    "AKIA",
    "ASIA",
    "eyJ",
    "BEGIN",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xox",
    "AIza",
    "hf_",
    "earer",
    "EARER",
    "asic",
    "ASIC",
    "_live_",
    "_test_",
    "SG.",
    "npm_",
    "pypi-",
)


def _may_have_shape(text: str) -> bool:
    return any(hint in text for hint in _SHAPE_HINTS)


_SHAPES = re.compile("|".join(f"(?P<s{i}>{pattern.pattern})" for i, (_, pattern) in enumerate(SECRET_SHAPES)))


def find_shapes(text: str) -> list[tuple[str, re.Match[str]]]:
    """``(label, match)`` of every secret-shaped value in ``text``."""
    found = []
    for label, pattern in SECRET_SHAPES:
        for match in pattern.finditer(text):
            if _is_shape(label, match.group(0)):
                found.append((label, match))
    return found


def _is_shape(label: str, value: str) -> bool:
    if REDACTED in value or "…" in value:
        return False
    if label == "a bearer token":
        return len(value) >= 16
    if label == "basic auth credentials":  # base64 of "user:password"
        try:
            return b":" in base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        except (binascii.Error, ValueError):
            return False
    return True


def mask(secret: str) -> str:
    """How a secret is printed: its first 6 characters and ``…`` (``sk-pro…``); short ones as ``…``."""
    return secret[:6] + "…" if len(secret) > 10 else "…"


# --- secret values and their encodings --------------------------------------------------------------


def _base64_cores(data: bytes) -> Iterable[str]:
    """The base64 text that encodes ``data`` wherever it starts within a longer byte string."""
    for offset in (0, 1, 2):
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii")
        start, end = -(-offset // 3) * 4, (offset + len(data)) // 3 * 4
        core = encoded[start:end]
        if len(core) >= MIN_SECRET_LENGTH:
            yield core
            yield core.replace("+", "-").replace("/", "_")


def value_forms(value: str) -> dict[str, bool]:
    """Every form ``value`` can take in text: ``form -> True`` for the raw one (printed masked)."""
    forms = {value: True}
    for form in (
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        *_base64_cores(value.encode("utf-8")),
    ):
        forms.setdefault(form, False)
    return forms


@functools.lru_cache(maxsize=64)
def _value_pattern(
    values: tuple[tuple[str, str], ...],
) -> tuple[re.Pattern[str] | None, dict[str, tuple[str, bool]]]:
    """One regex for every form of ``values`` (longest first), and ``form -> (name, is raw)``."""
    forms: dict[str, tuple[str, bool]] = {}
    for name, value in values:
        for form, raw in value_forms(value).items():
            forms.setdefault(form, (name, raw))
    if not forms:
        return None, forms
    return re.compile("|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))), forms


def _random_enough(value: str) -> bool:
    kinds = sum(
        (any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value))
    ) + any(not c.isalnum() for c in value)
    return len(value) >= MIN_PATTERN_SECRET_LENGTH and kinds >= 2 and not any(c.isspace() for c in value)
