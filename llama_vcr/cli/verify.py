"""``llama-vcr verify``: schema, file name, envelope revival and a secret scan for every recording.

The secret scan is :mod:`llama_vcr.cli._verify_secrets`. A file llama-stack's recorder wrote is
checked as llama-vcr reads it (``format.llama_stack``), and its name against every naming recipe
llama-stack used (``format.llama_stack_names``): only a name none of them re-derives is reported.

A *problem* fails the run (exit 1); a *note* is printed but does not: a llama-stack legacy name
whose legacy hash matches, a llama-stack record that is no HTTP exchange (skipped by design), a
request too malformed to hash, an envelope type whose package is not installed or whose data only
revives via ``model_construct``, a plain vcrpy cassette. See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .._errors import RecordingError
from .._redact import Redactor
from .._store import document_of, read_recording_text, recording_name
from ..format.codec import CODEC
from ..format.envelopes import DATA_KEY, TYPE_KEY, UnknownTypeError, check_type, import_type, revive
from ..format.llama_stack import NotReplayableError, from_llama_stack, is_llama_stack, not_replayable
from ..format.llama_stack_names import DOCUMENTED, HASH_NAME, name_check
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
from ._verify_secrets import DETECT_SECRETS_PLUGINS as DETECT_SECRETS_PLUGINS
from ._verify_secrets import check_secrets, secret_detector

_NUMBERED = re.compile(r"^[0-9a-f]{64}-\d+\.json$")


@dataclass(frozen=True)
class Finding:
    path: str
    #: problems: unreadable, schema, name, revive, secret;
    #: notes: legacy-name, name-unchecked, not-replayable, revive-fallback, type-not-installed,
    #: vcrpy-cassette
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


def check_name(name: str, document: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(kind, message, is_problem) about the file name versus the name the content derives.

    A file llama-vcr wrote must have the name ``recording_name`` derives. A file llama-stack wrote
    is named right if any of llama-stack's recipes re-derives its name
    (:mod:`llama_vcr.format.llama_stack_names`); a legacy 12-hex name that matches is a note.
    """
    if is_llama_stack(dict(document)):
        ok, how = name_check(name, document)
        if ok and how == "legacy":
            yield "legacy-name", "legacy name (llama-stack's 12-hex hash without test_id; it matches)", False
        elif not ok:
            would = _vcr_name(document)
            yield "name", f"{how}; llama-vcr would name it {would} (llama-stack's documented recipe)", True
        return
    derived = recording_name({**document, "test_id": document.get("test_id")})
    if derived == name:
        return
    if HASH_NAME.match(name) or _NUMBERED.match(name):
        yield "name", f"name does not match content (content derives {derived})", True
    else:
        yield "name", f"not a recording name (content derives {derived})", True


def _vcr_name(document: Mapping[str, Any]) -> str:
    """The name llama-vcr's recipe (llama-stack's documented one) gives a llama-stack file's content."""
    try:
        return DOCUMENTED.digest(document) + ".json"
    except (KeyError, TypeError, AttributeError):
        return "(no name: the request has no method, url or body)"


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


def check_load(document: Mapping[str, Any]) -> Iterator[str]:
    """What loading the recording in a test would refuse beyond the schema (``format.validate``:
    base64, URLs, header values, stream framing, SDK objects). Files that are no HTTP exchange
    (llama-stack tool-runtime calls) pass: the schema check reports their layout."""
    try:
        CODEC.decode(document)
    except RecordingFormatError as exc:
        if not isinstance(exc.__cause__, NotReplayableError):
            yield f"does not load: {exc}"


def schema_findings(shown: str, document: dict[str, Any]) -> list[Finding]:
    """The schema's findings; a llama-stack file is checked as llama-vcr reads it (its layouts:
    no ``test_id``, raw-HTTP ``payload``, bare model lists, recorded exceptions), and one that is no
    HTTP exchange is a ``not-replayable`` note (skipped by design) instead."""
    if is_llama_stack(document):
        reason = not_replayable(document)
        if reason is not None:
            message = f"{reason}; skipped by design: llama-vcr neither replays nor re-records it"
            return [Finding(shown, "not-replayable", message, False)]
        document = {"test_id": None, **from_llama_stack(dict(document))}
    return [Finding(shown, "schema", message) for message in check_schema(document)]


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
        findings += _checked(shown, "schema", lambda: schema_findings(shown, doc))

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
