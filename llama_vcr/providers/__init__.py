"""Provider modules: each ``providers/<name>.py`` describes one provider with a ``PROVIDER``.

Adding a provider is adding one module here with a :class:`~._provider.Provider`; this package
finds it by itself. A rule only names SDK classes by their dotted path, so an SDK that is not
installed costs nothing: its responses are stored as plain JSON and still replay.

The module-level constants below are the union over all providers (plus HTTP's own headers),
read by the redactor, the normaliser, the codec and the replay-miss error.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from typing import Any

from ._provider import HeaderRule, Provider


def _discover() -> tuple[Provider, ...]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            provider = getattr(importlib.import_module(f"{__name__}.{info.name}"), "PROVIDER", None)
            if isinstance(provider, Provider):
                found.append(provider)
    return tuple(sorted(found, key=lambda p: (p.fallback, p.name)))


#: Every provider, specific ones first and OpenAI-compatible fallbacks last.
PROVIDERS: tuple[Provider, ...] = _discover()

#: Type rules, in the order they are tried (the first match wins).
RULES = tuple(rule for provider in PROVIDERS for rule in provider.rules)
#: Volatile response fields and their value rules.
VOLATILE_FIELDS: Mapping[str, Callable[[Any], Any]] = {
    name: rule for provider in reversed(PROVIDERS) for name, rule in provider.volatile_fields.items()
}
STABLE_TYPES = frozenset().union(*(p.stable_types for p in PROVIDERS))
#: Request headers stored by default: HTTP's content negotiation plus each provider's.
KEPT_REQUEST_HEADERS = frozenset({"content-type", "accept"}).union(
    *(p.kept_request_headers for p in PROVIDERS)
)
#: Response headers stored by default (names or fnmatch patterns): the ones HTTP clients and the
#: SDKs read, and the providers' that tests read (rate limits, processing time, API version).
KEPT_RESPONSE_HEADERS = frozenset({"content-type", "location", "retry-after"}).union(
    *(p.kept_response_headers for p in PROVIDERS)
)
#: Kept response headers whose values vary between recordings (names or patterns) -> their rules.
VOLATILE_RESPONSE_HEADERS: Mapping[str, HeaderRule] = {
    name: rule for p in reversed(PROVIDERS) for name, rule in p.volatile_response_headers.items()
}
REQUEST_ID_HEADERS = tuple(dict.fromkeys(h for p in PROVIDERS for h in p.request_id_headers))
#: Request headers never written: HTTP's credentials plus each provider's.
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "set-cookie2", "proxy-authorization"}
).union(*(p.secret_headers for p in PROVIDERS))
SECRET_ENV = tuple(dict.fromkeys(name for p in PROVIDERS for name in p.secret_env))
SDK_ERROR_BASES = tuple(p.sdk_error for p in PROVIDERS if p.sdk_error is not None)
#: URL paths whose streams are NDJSON when a recording has no content type.
NDJSON_PATHS = re.compile("|".join(p.ndjson_paths.pattern for p in PROVIDERS if p.ndjson_paths) or "(?!)")

__all__ = [
    "KEPT_REQUEST_HEADERS",
    "KEPT_RESPONSE_HEADERS",
    "NDJSON_PATHS",
    "PROVIDERS",
    "REQUEST_ID_HEADERS",
    "RULES",
    "SDK_ERROR_BASES",
    "SECRET_ENV",
    "SECRET_HEADERS",
    "STABLE_TYPES",
    "VOLATILE_FIELDS",
    "VOLATILE_RESPONSE_HEADERS",
    "HeaderRule",
    "Provider",
]
