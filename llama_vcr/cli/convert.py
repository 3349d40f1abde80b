"""``llama-vcr convert``: vcrpy cassettes and llama-stack ``recordings/`` into llama-vcr recordings.

A source that fails (unreadable, a name the file system refuses) is reported and the others go on;
llama-stack records that are no HTTP exchange (tool runtime, file processor, google-genai calls)
are set aside, not copied, with their reason. The summary always prints; the status is 1 if
anything failed or conflicted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .._canonical import canonical_request
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


def load_serializer(spec: str) -> Any:
    """The vcrpy serializer ``--serializer`` names: ``module`` or ``module:attribute`` (dotted), an
    object (a module, a class, an instance) with vcrpy's ``deserialize(text) -> {"interactions":
    [...], "version": 1}``; a class is instantiated with no arguments. The current directory is
    searched first, as ``python -m`` does. Only this name is imported, never one read from a
    cassette. Raises :class:`UsageError` if it cannot be imported or has no ``deserialize``."""
    module_name, _, attribute = spec.partition(":")
    here = str(Path.cwd())
    added = here not in sys.path and "" not in sys.path
    if added:  # (only while this name is imported: what a cassette makes convert import later,
        sys.path.insert(0, here)  # a Content-Encoding's decoder, never comes from the directory)
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split(".") if attribute else ():
            found = getattr(found, part)
        if isinstance(found, type):
            found = found()
    except Exception as exc:  # an import error, a missing attribute, a constructor that fails
        raise UsageError(f"--serializer {spec}: cannot load it ({type(exc).__name__}: {exc})") from exc
    finally:
        if added and here in sys.path:
            sys.path.remove(here)
    if not callable(getattr(found, "deserialize", None)):
        raise UsageError(f"--serializer {spec}: has no deserialize(text) method, as vcrpy's serializers have")
    return found


def _read_vcrpy(path: Path, serializer: Any = None) -> tuple[list[Any], list[Any]]:
    """A cassette's requests and responses, read as vcrpy reads it: through ``serializer`` (the
    ``--serializer``), else vcrpy's JSON serializer for ``.json``, its YAML one otherwise. Raises
    ``ValueError`` for a file that is no cassette it can read."""
    from vcr.serialize import deserialize
    from vcr.serializers import jsonserializer, yamlserializer

    if serializer is None:
        serializer = jsonserializer if path.suffix == ".json" else yamlserializer
    try:
        requests, responses, *_ = deserialize(path.read_text(encoding="utf-8"), serializer)
    except Exception as exc:  # yaml/json/vcrpy/serializer errors all mean "not a cassette we can read"
        raise ValueError(f"not a vcrpy cassette ({type(exc).__name__}: {exc})") from exc
    return requests, responses


def _plan_cassette(
    path: Path, test_id: str, dest: Path, plan: _Plan, codec: RecordingCodec, serializer: Any = None
) -> None:
    """One file per interaction, encoded as the persister records and saves: in order, with one id
    map for the test, secret env values scrubbed (the name derives from what is written), the
    n-th repeat of a request hash numbered ``-n`` (``occurrence``), and each file's ``position``
    its interaction's place in the cassette (1-based), so replay keeps the cassette's order."""
    requests, responses = _read_vcrpy(path, serializer)
    directory = dest / directory_for_test(test_id)
    ids = IdMap()
    taken: set[str] = set()
    for position, (request, response) in enumerate(zip(requests, responses, strict=True), start=1):
        digest = canonical_request(request, codec.canonicalizer, ids).hash(test_id)
        occurrence = next_occurrence(digest, taken)
        document = codec.encode(request, response, test_id, ids=ids, occurrence=occurrence, position=position)
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


def _is_vcrpy(path: Path, serializer: Any = None) -> bool:
    """Whether ``path`` is a vcrpy cassette: YAML, a file ``serializer`` reads as one, or vcrpy
    JSON (a top-level ``interactions``); other JSON files are llama-stack recordings."""
    if path.suffix in (".yaml", ".yml"):
        return True
    try:
        text = path.read_text(encoding="utf-8")
        if serializer is not None:
            with contextlib.suppress(Exception):  # (what it raises: none of its cassettes)
                data = serializer.deserialize(text)
                if isinstance(data, dict) and "interactions" in data:
                    return True
        data = json.loads(text)
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
    codec = config.codec(tuple(args.secret_env or ()), normalize=not args.no_normalize)
    serializer = load_serializer(args.serializer) if args.serializer else None
    for path in [src] if src.is_file() else _sources(src, dest):
        try:
            if (serializer is not None and src.is_file()) or _is_vcrpy(path, serializer):
                test_id = args.test_id or derive_test_id(path)
                _plan_cassette(path, test_id, dest, plan, codec, serializer)
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
