"""``llama-vcr verify``: schema, file name, envelope revival and a secret scan for every recording.

The secret scan flags what the redaction policy (``llama_vcr._redact``) would have hidden: stored
secret headers, unredacted secret query values and secret-named fields, secret environment
values, and secret-shaped values (the policy's ``SECRET_SHAPES`` plus the regex detectors of
detect-secrets, imported only here). Every message is masked by the same policy before printing.

A *problem* fails the run (exit 1); a *note* is printed but does not: a llama-stack legacy name
whose legacy hash matches, a request layout whose name cannot be re-derived, an envelope type
whose package is not installed or whose data only revives via ``model_construct``, a plain
vcrpy cassette. See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .._canonical import endpoint_of, request_hash
from .._errors import RecordingError
from .._redact import (
    AMBIGUOUS,
    REDACTED,
    SECRET,
    SECRET_HEADERS,
    SECRET_QUERY_NAMES,
    Redactor,
    credential_like,
    find_shapes,
    mask,
)
from .._store import document_of, read_recording_text, recording_name
from ..format.codec import CODEC
from ..format.envelopes import DATA_KEY, TYPE_KEY, UnknownTypeError, check_type, import_type, revive
from ..format.llama_stack import NotReplayableError
from ..format.wire import RecordingFormatError
from ._common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    Console,
    cassette_dir,
    display,
    is_vcrpy_cassette,
    iter_recordings,
    printable,
)
from ._config import find_config
from ._console import annotation

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
_HASH_NAME = re.compile(r"^([0-9a-f]{64})(?:-(\d+))?\.json$")
_MODELS_NAME = re.compile(r"^models-([0-9a-f]{64})-[0-9a-f]{8}\.json$")
_LEGACY_NAME = re.compile(r"^(?:models-)?([0-9a-f]{12})(?:-[0-9a-f]{8})?\.json$")


@dataclass(frozen=True)
class Finding:
    path: str
    #: problems: unreadable, schema, name, revive, secret;
    #: notes: legacy-name, name-unchecked, revive-fallback, type-not-installed, vcrpy-cassette
    kind: str
    message: str
    problem: bool = True


@cache
def _validator() -> Any:
    import jsonschema

    text = (resources.files("llama_vcr.format") / "recording.schema.json").read_text(encoding="utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def _short(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_schema(document: Any) -> Iterator[str]:
    from jsonschema.exceptions import best_match

    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    missing: dict[str, list[str]] = {}
    messages: list[tuple[str, str]] = []
    for error in errors:
        if error.validator in ("anyOf", "oneOf") and error.context:
            error = best_match(error.context)
        where = "/" + "/".join(map(str, error.absolute_path))
        if error.validator == "required" and isinstance(error.validator_value, list):
            present = error.instance if isinstance(error.instance, dict) else {}
            missing.setdefault(where, []).extend(k for k in error.validator_value if k not in present)
        else:
            messages.append((where, _short(error.message)))
    for where, keys in missing.items():
        yield f"schema: at {where}: missing {', '.join(repr(k) for k in dict.fromkeys(keys))}"
    for where, message in messages:
        yield f"schema: at {where}: {message}"


def _legacy_hash(request: Mapping[str, Any]) -> str:
    """llama-stack's hash before test ids (12 hex of method, URL path and the raw body)."""
    key = {"method": request["method"], "endpoint": endpoint_of(request["url"]), "body": request["body"]}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def _tool_hash(request: Mapping[str, Any]) -> str:
    """llama-stack's ``tool_invoke`` hash (provider, tool name and arguments; no test id)."""
    key = {"provider": request["provider"], "tool_name": request["tool_name"], "kwargs": request["kwargs"]}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def check_name(name: str, document: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(kind, message, is_problem) about the file name versus the name the content derives."""
    request = document["request"]
    if {"provider", "tool_name", "kwargs"} <= request.keys():
        if _tool_hash(request) + ".json" != name:
            yield "name", "name does not match content (llama-stack tool_invoke hash)", True
        return
    if not {"method", "url", "body"} <= request.keys() or not isinstance(request.get("url"), str):
        missing = sorted({"method", "url", "body"} - request.keys())
        yield "name-unchecked", f"name not checked: request has no {'/'.join(missing) or 'string url'}", False
        return
    legacy = _LEGACY_NAME.match(name)
    if legacy:
        if _legacy_hash(request) == legacy.group(1):
            yield "legacy-name", "legacy name (llama-stack's 12-hex hash without test_id; it matches)", False
        else:
            yield "name", "legacy name does not match content (llama-stack's 12-hex hash)", True
        return
    derived = recording_name({**document, "test_id": document.get("test_id")})
    models = _MODELS_NAME.match(name)
    if models:
        digest = request_hash(
            request["method"], endpoint_of(request["url"]), request["body"], document.get("test_id")
        )
        if models.group(1) != digest:
            yield "name", f"name does not match content (hash part should be {digest[:12]}…)", True
        return
    if derived == name:
        return
    if _HASH_NAME.match(name):
        yield "name", f"name does not match content (content derives {derived})", True
    else:
        yield "name", f"not a recording name (content derives {derived})", True


def _envelopes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if TYPE_KEY in value and DATA_KEY in value:
            yield value
            return
        for item in value.values():
            yield from _envelopes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _envelopes(item)


def check_revival(document: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """Revive every envelope with ``strict=True``.

    A ``__type__`` outside the allowed SDK packages (``envelopes.allowed_type_packages``), or naming
    a private attribute, is a problem and is never imported (``revive`` refuses it before importing).
    A ``__type__`` that cannot be imported is a problem, unless its package is simply not installed
    here (an optional SDK: the persister loads it and it replays as plain data), which is a note.
    Data that does not validate as its type (revived via ``model_construct``, as llama-stack does)
    is a note.
    """
    found: Counter[tuple[str, str, bool]] = Counter()
    for item in _envelopes((document.get("response") or {}).get("body")):
        type_name = item.get(TYPE_KEY)
        if type_name is None:
            continue
        try:
            revived = revive(item, strict=True)
        except UnknownTypeError:
            problem = check_type(type_name)
            if problem:
                found["revive", problem, True] += 1
            else:
                package = str(type_name).split(".", 1)[0]
                message = f"cannot import __type__ {type_name!r}: {package} is not installed here"
                found["type-not-installed", message, False] += 1
            continue
        except Exception as exc:  # revive falls back quietly; anything else is a bug worth reporting
            found["revive", f"cannot revive {type_name!r}: {type(exc).__name__}: {exc}", True] += 1
            continue
        try:
            import_type(type_name).model_validate(item[DATA_KEY])  # type: ignore[attr-defined]
        except Exception:
            how = "model_construct" if revived is not item[DATA_KEY] else "the plain data"
            message = f"data does not validate as {type_name!r} (revived via {how})"
            found["revive-fallback", message, False] += 1
    for (kind, message, is_problem), count in found.items():
        yield kind, message + (f" (x{count})" if count > 1 else ""), is_problem


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
        for name in received if isinstance(received, dict) else {}:
            if str(name).lower() in SECRET_HEADERS:
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


def check_load(document: Mapping[str, Any]) -> Iterator[str]:
    """What loading the recording in a test would refuse beyond the schema (``format.validate``:
    base64, URLs, header values, stream framing, SDK objects). Files that are no HTTP exchange
    (llama-stack tool-runtime calls) pass: the schema check reports their layout."""
    try:
        CODEC.decode(document)
    except RecordingFormatError as exc:
        if not isinstance(exc.__cause__, NotReplayableError):
            yield f"does not load: {exc}"


def _checked(shown: str, what: str, check: Callable[[], list[Finding]]) -> list[Finding]:
    """``check()``'s findings; a check that fails on a malformed file is reported, never raised."""
    try:
        return check()
    except Exception as exc:
        return [Finding(shown, "unchecked", f"{what} not checked: {type(exc).__name__}: {exc}")]


def verify_file(path: Path, redactor: Redactor, root: Path | None = None) -> list[Finding]:
    """Every finding about one file, read as a test reads it (a regular file within ``root``,
    default its own directory, of bounded size); a check a malformed file breaks is a finding too."""
    shown = display(path)
    findings: list[Finding] = []
    text: str | None = None
    document: dict[str, Any] | None = None
    try:
        text = read_recording_text(path, root=root)
        document = document_of(path, text, CODEC)
    except RecordingError as exc:
        if text is not None and is_vcrpy_cassette(path, text):
            findings.append(Finding(shown, "vcrpy-cassette", "a plain vcrpy cassette, not checked", False))
        else:
            findings.append(Finding(shown, "unreadable", f"unreadable: {exc.problem}"))
    if document is not None:
        doc = document
        findings += _checked(
            shown, "schema", lambda: [Finding(shown, "schema", m) for m in check_schema(doc)]
        )

        def names() -> list[Finding]:
            try:
                found = list(check_name(path.name, doc))
            except (KeyError, TypeError, AttributeError) as exc:  # a request too malformed to hash
                found = [("name-unchecked", f"name not checked: {type(exc).__name__}: {exc}", False)]
            return [Finding(shown, kind, msg, problem) for kind, msg, problem in found]

        findings += _checked(shown, "name", names)
        findings += _checked(
            shown, "revival", lambda: [Finding(shown, *found) for found in check_revival(doc)]
        )
        if not any(f.kind == "schema" for f in findings):  # (else the schema said what is wrong)
            findings += _checked(shown, "load", lambda: [Finding(shown, "load", m) for m in check_load(doc)])
    if text is not None:
        scanned = text
        findings += _checked(
            shown,
            "secret scan",
            lambda: [Finding(shown, "secret", m) for m in check_secrets(scanned, document, redactor)],
        )
    # nothing verify prints holds a secret (a schema error quotes the value it rejects)
    return [replace(f, path=redactor.mask(f.path), message=redactor.mask(f.message)) for f in findings]


_SECRET_LINE = re.compile(r"^secret: line (\d+) ")


def github_annotation(finding: Finding) -> str:
    """``finding`` as a GitHub Actions annotation: ``::error`` for a problem, ``::warning`` for a note."""
    line = _SECRET_LINE.match(finding.message)
    return annotation(
        "error" if finding.problem else "warning",
        finding.message,
        file=finding.path,
        title=f"llama-vcr verify: {finding.kind}",
        line=int(line.group(1)) if line else None,
    )


def cmd_verify(args: argparse.Namespace, console: Console) -> int:
    config = find_config()
    given = [Path(p) for p in args.paths] or [cassette_dir(None, config)]
    # a recording's symbolic links must stay within the directory it was found in
    roots = {path: arg if arg.is_dir() else path.parent for arg in given for path in iter_recordings([arg])}
    paths = list(roots)
    redactor = config.redactor(tuple(args.secret_env or ()))
    with secret_detector():
        findings = [finding for path in paths for finding in verify_file(path, redactor, roots[path])]
    findings = [replace(f, path=printable(f.path), message=printable(f.message)) for f in findings]
    problems = [f for f in findings if f.problem]
    notes = [f for f in findings if not f.problem]
    counts = Counter(f.kind for f in findings)
    if args.format == "json":
        console.json(
            {
                "recordings": len(paths),
                "ok": not problems,
                "problems": [asdict(f) for f in problems],
                "notes": [asdict(f) for f in notes],
                "counts": dict(sorted(counts.items())),
            }
        )
        return EXIT_PROBLEMS if problems else EXIT_OK
    for finding in findings:
        if args.format == "github":
            console.print(github_annotation(finding))
        elif finding.problem:
            console.print(f"{finding.path}: ", console.style(finding.message, "red"))
        else:
            console.print(f"{finding.path}: ", console.style("note: " + finding.message, "yellow"))

    def tally(items: list[Finding]) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in sorted(Counter(f.kind for f in items).items()))

    noted = f"; {len(notes)} note(s): {tally(notes)}" if notes else ""
    if problems:
        bad = len({f.path for f in problems})
        found = f"{len(problems)} problem(s) in {bad} of {len(paths)} recording(s)"
        console.error(f"{found}: {tally(problems)}{noted}")
        return EXIT_PROBLEMS
    console.print(console.style(f"{len(paths)} recording(s) verified: no problems{noted}", "green"))
    return EXIT_OK
