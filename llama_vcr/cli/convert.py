"""``llama-vcr convert``: vcrpy cassettes and llama-stack ``recordings/`` into llama-vcr recordings.

A source that fails (unreadable, a name the file system refuses) is reported and the others go on;
llama-stack records that are no HTTP exchange (tool runtime, file processor, google-genai calls)
are set aside, not copied, with their reason. The summary always prints; the status is 1 if
anything failed or conflicted.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .._canonical import Canonicalizer, canonical_request
from .._errors import RecordingError
from .._normalize import IdMap
from .._redact import REDACTED, Redactor
from .._store import next_occurrence, place, read_document
from ..format.codec import CODEC, RecordingCodec
from ..format.llama_stack import not_replayable
from ._common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    SESSION_DIR,
    Console,
    UsageError,
    directory_for_test,
    display,
    test_id_of,
)
from ._config import find_config


@dataclass
class _Plan:
    """Files convert writes: destination -> (text, source), plus what it reports."""

    writes: dict[Path, tuple[str, str]] = field(default_factory=dict)
    #: Verbatim copies keep their source's modification time (``ls`` shows it as the age).
    mtimes: dict[Path, float] = field(default_factory=dict)
    unchanged: list[Path] = field(default_factory=list)
    conflicts: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    #: (source, reason): llama-stack records that are no HTTP exchange, not copied.
    set_aside: list[tuple[str, str]] = field(default_factory=list)
    #: (destination, environment variable) whose value was found and replaced by ``REDACTED``.
    scrubbed: list[tuple[Path, str]] = field(default_factory=list)

    def add(self, destination: Path, text: str, source: str, mtime: float | None = None) -> None:
        if destination in self.writes:
            self.conflicts.append(destination)
        elif destination.exists():
            same = destination.read_bytes() == text.encode("utf-8")
            (self.unchanged if same else self.conflicts).append(destination)
        else:
            self.writes[destination] = (text, source)
            if mtime is not None:
                self.mtimes[destination] = mtime


def derive_test_id(cassette: Path) -> str:
    """The test id a pytest-recording cassette path implies.

    ``tests/cassettes/test_m/Cls.test_x.yaml`` -> ``tests/test_m.py::Cls::test_x``; without a
    ``cassettes`` directory the parent directory is the module. Paths outside the current
    directory keep only the folder before ``cassettes``. Raises :class:`UsageError` if nothing fits.
    """
    try:
        parts = list(cassette.resolve().relative_to(Path.cwd().resolve()).parts)
        inside = True
    except ValueError:
        parts = list(cassette.parts[1:] if cassette.is_absolute() else cassette.parts)
        inside = False
    *folders, file_name = parts
    if "cassettes" in folders:
        index = len(folders) - 1 - folders[::-1].index("cassettes")
        before = folders[:index] if inside else folders[max(0, index - 1) : index]
        module = [*before, *folders[index + 1 :]]
    else:
        module = folders if inside else folders[-1:]
    if not module or module[-1] == "cassettes":
        raise UsageError(f"cannot tell which test {cassette} belongs to; name it with --test-id")
    head, bracket, params = Path(file_name).stem.partition("[")
    name = "::".join(head.split(".")) + bracket + params
    return f"{PurePosixPath(*module).as_posix()}.py::{name}"


def _read_vcrpy(path: Path) -> tuple[list[Any], list[Any]]:
    from vcr.serialize import deserialize
    from vcr.serializers import jsonserializer, yamlserializer

    serializer = jsonserializer if path.suffix == ".json" else yamlserializer
    try:
        requests, responses, *_ = deserialize(path.read_text(encoding="utf-8"), serializer)
    except Exception as exc:  # yaml/json/vcrpy errors all mean "not a cassette we can read"
        raise ValueError(f"not a vcrpy cassette ({type(exc).__name__}: {exc})") from exc
    return requests, responses


def _plan_cassette(path: Path, test_id: str, dest: Path, plan: _Plan, codec: RecordingCodec) -> None:
    """One file per interaction, encoded as the persister records and saves: in order, with one id
    map for the test, secret env values scrubbed (the name derives from what is written), and the
    n-th repeat of a request hash numbered ``-n`` (``occurrence``)."""
    requests, responses = _read_vcrpy(path)
    directory = dest / directory_for_test(test_id)
    ids = IdMap()
    taken: set[str] = set()
    for request, response in zip(requests, responses, strict=True):
        digest = canonical_request(request, codec.canonicalizer, ids).hash(test_id)
        occurrence = next_occurrence(digest, taken)
        document = codec.encode(request, response, test_id, ids=ids, occurrence=occurrence)
        name, text, leaked = place(document, codec, taken)
        plan.add(directory / name, text, display(path))
        plan.scrubbed += [(directory / name, variable) for variable in leaked]


def _plan_recording(path: Path, dest: Path, plan: _Plan, redactor: Redactor) -> None:
    """A llama-stack (or llama-vcr) recording, copied as it is into its test's directory (secret
    env values are still scrubbed; then its name may no longer derive, which ``verify`` reports)."""
    document = read_document(path, CODEC)
    reason = not_replayable(document)
    if reason is not None:
        plan.set_aside.append((display(path), reason))
        return
    text, leaked = redactor.scrub(path.read_text(encoding="utf-8"))
    test_id = test_id_of(document)
    directory = dest / directory_for_test(test_id) if test_id and "::" in test_id else dest / SESSION_DIR
    plan.add(directory / path.name, text, display(path), path.stat().st_mtime)
    plan.scrubbed += [(directory / path.name, variable) for variable in leaked]


def _is_vcrpy(path: Path) -> bool:
    if path.suffix in (".yaml", ".yml"):
        return True
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "interactions" in data


def _sources(src: Path, dest: Path) -> Iterable[Path]:
    dest = dest.resolve()
    for path in sorted(src.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(src).parts)
        wanted = path.suffix in (".json", ".yaml", ".yml") and not hidden
        if wanted and path.is_file() and dest not in path.resolve().parents:
            yield path


def _write(plan: _Plan) -> None:
    """Write the planned files; one the file system refuses is a failure, the others are written."""
    for destination, (text, source) in list(plan.writes.items()):
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(text, encoding="utf-8")
            if destination in plan.mtimes:
                os.utime(destination, (plan.mtimes[destination], plan.mtimes[destination]))
        except OSError as exc:
            del plan.writes[destination]
            plan.failures.append((source, f"cannot write {display(destination)}: {exc.strerror or exc}"))


def cmd_convert(args: argparse.Namespace, console: Console) -> int:
    src, dest = Path(args.src), Path(args.dest)
    if not src.exists():
        raise UsageError(f"no such file or directory: {src}")
    if args.test_id is not None:
        if src.is_dir():
            raise UsageError("--test-id applies to a single cassette file, not a directory")
        try:
            directory_for_test(args.test_id)
        except ValueError as exc:
            raise UsageError(f"--test-id: {exc}") from exc
    plan = _Plan()
    config = find_config()
    codec = RecordingCodec(Canonicalizer(config.redactor(tuple(args.secret_env or ()))))
    for path in [src] if src.is_file() else _sources(src, dest):
        try:
            if _is_vcrpy(path):
                _plan_cassette(path, args.test_id or derive_test_id(path), dest, plan, codec)
            else:
                _plan_recording(path, dest, plan, codec.redactor)
        except Exception as exc:  # one source's problem never stops the others
            problem = exc.problem if isinstance(exc, RecordingError) else str(exc) or type(exc).__name__
            plan.failures.append((display(path), problem))
    if src.is_file() and plan.failures:
        raise UsageError(f"cannot convert {plan.failures[0][0]}: {plan.failures[0][1]}")
    if not args.dry_run:
        _write(plan)
    for destination, variable in plan.scrubbed:
        console.error(f"{display(destination)}: the value of ${variable} was replaced by {REDACTED}")
    verb = "would write" if args.dry_run else "wrote"
    if args.json:
        console.json(
            {
                "dry_run": bool(args.dry_run),
                "written": [{"path": display(p), "source": s} for p, (_, s) in plan.writes.items()],
                "unchanged": [display(p) for p in plan.unchanged],
                "conflicts": [display(p) for p in plan.conflicts],
                "skipped": [{"path": p, "problem": problem} for p, problem in plan.failures],
                "set_aside": [{"path": p, "reason": reason} for p, reason in plan.set_aside],
                "scrubbed": [{"path": display(p), "variable": v} for p, v in plan.scrubbed],
            }
        )
    else:
        for destination, (_, source) in plan.writes.items():
            console.print(f"{verb} {display(destination)}  (from {source})")
        for destination in plan.conflicts:
            message = f"{display(destination)}: exists with different content; skipped"
            console.print(console.style(message, "red"))
        for source, problem in plan.failures:
            console.print(console.style(f"{source}: skipped: {problem}", "red"))
        for source, reason in plan.set_aside:
            console.print(
                console.style(f"{source}: set aside: {reason} (llama-vcr cannot replay it)", "yellow")
            )
        summary = f"{verb} {len(plan.writes)} recording(s), {len(plan.unchanged)} unchanged"
        if plan.conflicts or plan.failures:
            summary += f", {len(plan.conflicts)} conflict(s), {len(plan.failures)} source(s) skipped"
        if plan.set_aside:
            summary += f", {len(plan.set_aside)} not-HTTP record(s) set aside"
        console.print(console.style(summary, "red" if plan.conflicts or plan.failures else "green"))
    return EXIT_PROBLEMS if plan.conflicts or plan.failures else EXIT_OK
