"""Response headers: which a recording keeps, and the fixed values volatile ones are written as.

A client reads a few response headers: HTTP's own (``content-type``, ``location``,
``retry-after``), the SDKs' (``retry-after-ms``, ``x-should-retry``, request ids) and the
providers' that tests read through ``with_raw_response`` (``x-ratelimit-*``,
``anthropic-ratelimit-*``, ``openai-processing-ms``, ``openai-version``). Each provider declares
the ones it keeps (``Provider.kept_response_headers``: names or ``fnmatch`` patterns) and how each
volatile one is written (``Provider.volatile_response_headers``); request ids become
``req_<stable id>``. So two recordings of the same exchange are byte-identical whatever the live
rate-limit counters were. Everything else (``date``, ``set-cookie``, ``cf-ray``,
``content-length``...) is dropped.

The user adds and drops names (ini options ``llama_vcr_keep_response_headers`` and
``llama_vcr_drop_response_headers``: :meth:`ResponseHeaders.configured`). Never stored, whatever
the configuration:

- ``set-cookie``, ``set-cookie2`` and every name the redaction policy calls secret
  (:meth:`Redactor.is_secret_response_header`): adding one is a ``ValueError``, and a pattern that
  matches one still skips it;
- a header whose value the policy would hide (a key-shaped value, a secret variable's value): it
  is dropped when written, with a :class:`~llama_vcr.SecretHeaderWarning`. A URL header
  (``location``) is stored with the URL rules applied instead (secret query values hidden).
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import providers as _providers
from ._canonical import stable_url
from ._errors import SecretHeaderWarning
from ._redact import DEFAULT_REDACTOR, Redaction, Redactor
from .providers._provider import HeaderRule

#: Response headers stored by default: names or fnmatch patterns (lower-case).
KEPT_RESPONSE_HEADERS = _providers.KEPT_RESPONSE_HEADERS
#: Kept response headers whose values vary between recordings, and the rule that writes each.
VOLATILE_RESPONSE_HEADERS = _providers.VOLATILE_RESPONSE_HEADERS
#: Response headers whose value is replaced by ``req_<stable id>``.
REQUEST_ID_HEADERS = _providers.REQUEST_ID_HEADERS
#: Headers whose values are URLs: stored with the URL redaction rules rather than dropped.
URL_HEADERS = frozenset({"location", "content-location"})
_SEPARATORS = re.compile(r"[\s,]+")


def header_names(entries: Iterable[str]) -> list[str]:
    """Header names (or patterns) from ini lines: split on whitespace and commas, lower-cased,
    first occurrence kept: ``["x-a x-b", "X-A"]`` -> ``["x-a", "x-b"]``."""
    names = (name.lower() for entry in entries for name in _SEPARATORS.split(entry) if name)
    return list(dict.fromkeys(names))


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(name == pattern or fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _each(value: Any, change: Any) -> Any:
    """``change`` applied to a header's value: one string, or each of a repeated header's."""
    if isinstance(value, list):
        return [change(item) if isinstance(item, str) else item for item in value]
    return change(value) if isinstance(value, str) else value


#: Response headers ``llama_vcr_drop_response_headers`` cannot drop: replay frames the stored body by
#: its content type, so without it an NDJSON stream would come back as Server-Sent Events.
ALWAYS_KEPT = frozenset({"content-type"})


@dataclass(frozen=True)
class ResponseHeaders:
    """The response-header policy of a codec (see the module docstring).

    ``kept`` and ``dropped`` are lower-case names or fnmatch patterns (a dropped match wins);
    ``volatile`` maps names or patterns to :data:`~llama_vcr.providers._provider.HeaderRule`
    (the first matching entry applies); ``request_ids`` are written as ``req_<stable id>``.
    """

    kept: frozenset[str] = KEPT_RESPONSE_HEADERS
    dropped: frozenset[str] = frozenset()
    volatile: Mapping[str, HeaderRule] = field(default_factory=lambda: dict(VOLATILE_RESPONSE_HEADERS))
    request_ids: tuple[str, ...] = REQUEST_ID_HEADERS

    @classmethod
    def configured(
        cls, keep: Iterable[str] = (), drop: Iterable[str] = (), redactor: Redactor = DEFAULT_REDACTOR
    ) -> ResponseHeaders:
        """The defaults plus ``keep`` minus ``drop`` (ini lines: see :func:`header_names`).

        Raises ``ValueError`` naming every entry of ``keep`` that is never stored (``set-cookie``,
        a secret-looking name by ``redactor``'s rule), and saying why.
        """
        added = header_names(keep)
        refused = [name for name in added if redactor.is_secret_response_header(name)]
        if refused:
            raise ValueError(
                f"{', '.join(refused)}: never stored, even when added (set-cookie carries session "
                "cookies, and a name with key, token, secret, password, signature, credential or "
                "cookie in it, or one the redaction policy names, carries credentials); remove "
                f"{'them' if len(refused) > 1 else 'it'}"
            )
        dropped = header_names(drop)
        needed = [name for name in dropped if any(fnmatch.fnmatchcase(h, name) for h in ALWAYS_KEPT)]
        if needed:
            raise ValueError(
                f"{', '.join(needed)}: cannot be dropped ({', '.join(sorted(ALWAYS_KEPT))} tell replay "
                "how the stored body is framed and encoded)"
            )
        return cls(KEPT_RESPONSE_HEADERS | frozenset(added), frozenset(dropped))

    def keeps(self, name: str, redactor: Redactor = DEFAULT_REDACTOR) -> bool:
        """Whether a response header named ``name`` is stored (its value may still be refused)."""
        name = name.lower()
        return (
            _matches(name, self.kept)
            and not _matches(name, self.dropped)
            and not redactor.is_secret_response_header(name)
        )

    def rule(self, name: str) -> HeaderRule | None:
        """The rule that writes volatile header ``name``, or None (stored as recorded)."""
        rule = self.volatile.get(name)
        if rule is None:
            found = (r for pattern, r in self.volatile.items() if fnmatch.fnmatchcase(name, pattern))
            rule = next(found, None)
        return rule

    def select(
        self, headers: Mapping[str, Any], redaction: Redaction, request_id: str, where: str = "a request"
    ) -> dict[str, Any]:
        """The headers a recording stores, from a response's ``headers`` (lower-case names -> a
        string, or a list of strings for a repeated header), in name order: kept names only,
        volatile values rewritten, request ids replaced by ``request_id``. A header whose value ``redaction``
        would change is dropped with a :class:`~llama_vcr.SecretHeaderWarning` naming it and
        ``where`` (URL headers are stored redacted instead)."""
        stored: dict[str, Any] = {}
        for name, value in headers.items():
            if not self.keeps(name, redaction.redactor):
                continue
            if name in self.request_ids:
                stored[name] = request_id
                continue
            rule = self.rule(name)
            if rule is not None:
                value = _each(value, lambda item, rule=rule, name=name: rule(name, item, headers))
            if name in URL_HEADERS:  # (a loopback port left out, as in request URLs)
                value = _each(value, stable_url)
            hidden = redaction.value(value)
            if hidden != value and name not in URL_HEADERS:
                warnings.warn(SecretHeaderWarning(name, where), stacklevel=2)
                continue
            stored[name] = hidden
        return dict(sorted(stored.items()))  # in name order: servers do not all send one order


#: The default policy (no ini options).
DEFAULT_RESPONSE_HEADERS = ResponseHeaders()
