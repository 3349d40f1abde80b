"""The name rule: which JSON keys and form fields hold secrets (:func:`field_kind`), word by word,
so ``access_token`` is a secret and ``max_tokens`` is not.
"""

from __future__ import annotations

import functools
import re

from .constants import REDACTED

# --- the name rule for JSON keys and form fields ---------------------------------------------------

#: The kinds :func:`field_kind` returns.
PLAIN, AMBIGUOUS, SECRET = 0, 1, 2

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
#: Words that make a field secret when they end its name: ``client_secret``, ``db_password``, ``jwt``.
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "secrets",
        "credential",
        "credentials",
        "jwt",
        "authorization",
        "cookie",
        "cookies",
        # names written as one word
        "apikey",
        "apikeys",
        "accesstoken",
        "refreshtoken",
        "authtoken",
        "bearertoken",
        "sessiontoken",
        "idtoken",
        "clientsecret",
        "privatekey",
        "secretkey",
        "accesskey",
    }
)
#: ``<word>_token`` is secret (``access_token``, ``github_token``) unless the word says it is a text
#: token or a page cursor: ``stop_token``, ``eos_token``, ``next_page_token``.
TEXT_TOKEN_WORDS = frozenset(
    {
        "max",
        "min",
        "stop",
        "eos",
        "bos",
        "eot",
        "eom",
        "pad",
        "unk",
        "sep",
        "cls",
        "mask",
        "start",
        "end",
        "special",
        "added",
        "bad",
        "default",
        "fim",
        "vocab",
        "image",
        "audio",
        "video",
        "text",
        "input",
        "output",
        "prompt",
        "completion",
        "reasoning",
        "cached",
        "total",
        "num",
        "count",
        "next",
        "prev",
        "previous",
        "page",
        "continuation",
        "pagination",
        "cursor",
        "sync",
        "first",
        "last",
        "think",
        "thinking",
        "tool",
    }
)
#: ``<word>_key`` is secret only after one of these: ``api_key``, ``secret_access_key`` (not
#: ``prompt_cache_key``, ``idempotency_key``, ``public_key``).
SECRET_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "secret",
        "private",
        "access",
        "subscription",
        "client",
        "signing",
        "sign",
        "encryption",
        "master",
        "license",
        "licence",
        "auth",
        "service",
        "account",
        "admin",
        "consumer",
        "app",
        "application",
        "developer",
        "shared",
        "ssh",
        "gpg",
        "pgp",
        "hmac",
        "session",
        "root",
        "bearer",
        "deploy",
        "webhook",
        "personal",
        "project",
        "write",
    }
)
#: ``<word>_signature`` is secret after one of these (``X-Amz-Signature``); a bare ``signature`` is
#: not: Anthropic signs thinking blocks, and the SDK sends the signature back.
SIGNATURE_QUALIFIERS = frozenset({"amz", "goog", "aws", "request", "url", "hmac", "webhook", "sas"})
#: ``<word>_auth`` is secret after one of these (``basic_auth``; not ``token_endpoint_auth``, a method).
AUTH_QUALIFIERS = frozenset({"basic", "http", "proxy", "bearer", "api", "digest", "client", "user"})
#: Words after the secret word that keep the name secret: ``password_hash``, ``api_key_value``
#: (any other word makes it something else: ``token_ids``, ``api_key_id``, ``secret_name``).
SECRET_TAIL_WORDS = frozenset(
    {"value", "values", "b64", "base64", "raw", "plain", "plaintext", "string", "str", "hex", "hash", "data"}
)
#: Whole names that hide a string only when it looks like a credential (see :func:`credential_like`):
#: ``token`` is also a logprobs entry's text, ``key`` a metadata key, ``session`` a config object.
AMBIGUOUS_NAMES = frozenset({"token", "key", "session", "auth", "sid", "sig"})


@functools.lru_cache(maxsize=4096)
def field_kind(name: str) -> int:
    """Whether a JSON key or form field holds a secret: :data:`SECRET`, :data:`AMBIGUOUS` or :data:`PLAIN`.

    The name is split into words (``snake_case``, ``kebab-case``, ``camelCase``, ``X-Amz-...``); it is
    secret when a secret word ends it (or is followed only by :data:`SECRET_TAIL_WORDS`): a word of
    :data:`SECRET_WORDS`; ``token`` after a word not in :data:`TEXT_TOKEN_WORDS`; ``key`` after one
    in :data:`SECRET_KEY_QUALIFIERS`; ``signature`` after one in :data:`SIGNATURE_QUALIFIERS`;
    ``auth`` after one in :data:`AUTH_QUALIFIERS`. ``tokens`` (counts, lists of tokens) never is.
    """
    words = [word.lower() for word in _WORD.findall(name)]
    if not words:
        return PLAIN
    if len(words) == 1 and words[0] in AMBIGUOUS_NAMES:
        return AMBIGUOUS
    if "".join(words) in SECRET_WORDS:
        return SECRET
    for index, word in enumerate(words):
        if not all(tail in SECRET_TAIL_WORDS for tail in words[index + 1 :]):
            continue
        before = words[index - 1] if index else None
        if (
            word in SECRET_WORDS
            or (word == "token" and before is not None and before not in TEXT_TOKEN_WORDS)
            or (word in ("key", "keys") and before in SECRET_KEY_QUALIFIERS)
            or (word in ("signature", "sig") and before in SIGNATURE_QUALIFIERS)
            or (word == "auth" and before in AUTH_QUALIFIERS)
        ):
            return SECRET
    return PLAIN


_CREDENTIAL = re.compile(r"[A-Za-z0-9._~+/=:-]{16,}")


def credential_like(value: str) -> bool:
    """A string that looks like a credential: 16+ characters, no spaces, a digit."""
    return (
        _CREDENTIAL.fullmatch(value) is not None and any(c.isdigit() for c in value) and REDACTED not in value
    )
