"""``llama-vcr prune``: remove recordings of tests that no longer exist (asks pytest what it collects)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .._errors import RecordingError
from .._store import read_document
from ..format.codec import CODEC
from ._common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    Console,
    UsageError,
    cassette_dir,
    directory_for_test,
    display,
    is_vcrpy_cassette,
    iter_recordings,
    test_id_of,
)
from ._config import find_config

_COLLECTED = re.compile(r"^(\d+)(/\d+)? tests? collected")
_SKIPPED = re.compile(r"^SKIPPED \[\d+\] (.+?):\d+: ")


@dataclass(frozen=True)
class Collection:
    """What pytest collected: node ids, and the paths of modules (or conftests) it skipped."""

    node_ids: frozenset[str]
    skipped: tuple[str, ...]

    def protects(self, test_id: str | None, directory: Path) -> bool:
        """Whether a recording belongs to a module pytest skipped while collecting (so keep it)."""
        for skipped in self.skipped:
            path = PurePosixPath(skipped)
            prefix = path.parent if path.name == "conftest.py" else path.with_suffix("")
            module = PurePosixPath(test_id.partition("::")[0]).with_suffix("") if test_id else None
            if module is not None and (module == prefix or prefix in module.parents):
                return True
            if path.name != "conftest.py" and directory.parent.parts[-len(prefix.parts) :] == prefix.parts:
                return True
        return False


def collect_node_ids(rootdir: Path | None) -> Collection:
    """The node ids ``pytest --collect-only -q`` lists, run in ``rootdir`` (or the current directory).

    ``--verbosity=-1`` is ``-q`` pinned, so an ``addopts`` with ``-q`` or ``-v`` cannot change
    the output; the ids are checked against pytest's own count, and a deselection refused.
    ``-rs`` lists modules skipped while collecting (``pytest.importorskip``): their tests are
    missing from the ids, so their recordings must be kept.
    """
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        "--verbosity=-1",
        "-rs",
        "-p",
        "no:cacheprovider",
    ]
    if rootdir is not None:
        command.append(f"--rootdir={rootdir.resolve()}")
    result = subprocess.run(command, cwd=rootdir, capture_output=True, text=True, check=False)
    where = display(rootdir) if rootdir else "the current directory"
    if result.returncode == 5:
        raise UsageError(f"pytest collected no tests in {where}; not pruning (is --rootdir right?)")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise UsageError(
            f"pytest could not collect the tests in {where} (exit {result.returncode}); not pruning\n{tail}"
        )
    node_ids: list[str] = []
    lines = iter(result.stdout.splitlines())
    for line in lines:
        if not line.strip():
            break  # the node ids end at the first blank line; the summary follows
        if "::" in line and not line.startswith(" "):
            node_ids.append(line.strip())
    rest = [line.strip() for line in lines]
    counts = [match for line in rest if (match := _COLLECTED.match(line))]
    if counts and counts[-1].group(2):
        raise UsageError(f"pytest deselected tests in {where} (-k/-m in addopts?); not pruning")
    if not counts or int(counts[-1].group(1)) != len(node_ids):
        raise UsageError(f"cannot read pytest's list of tests in {where}; not pruning")
    skipped = tuple(dict.fromkeys(match.group(1) for line in rest if (match := _SKIPPED.match(line))))
    return Collection(frozenset(node_ids), skipped)


def _suffix_match(directory: Path, candidates: set[tuple[str, ...]], depths: set[int]) -> bool:
    parts = directory.parts
    return any(tuple(parts[-depth:]) in candidates for depth in depths if depth <= len(parts))


def _remove_empty_dirs(root: Path) -> list[Path]:
    """Remove every empty directory below ``root`` (deepest first), never ``root`` itself."""
    removed: list[Path] = []
    for current, _, _ in sorted(os.walk(root), key=lambda entry: -len(Path(entry[0]).parts)):
        path = Path(current)
        if path != root and not any(path.iterdir()):
            path.rmdir()
            removed.append(path)
    return removed


def cmd_prune(args: argparse.Namespace, console: Console) -> int:
    config = find_config()
    root = cassette_dir(args.dir, config)
    # pytest runs where its configuration is, so that it collects the whole project
    rootdir = Path(args.rootdir) if args.rootdir else (config.rootdir if config.file else None)
    if rootdir is not None and not rootdir.is_dir():
        raise UsageError(f"no such directory: {rootdir}")
    collection = collect_node_ids(rootdir)
    node_ids = collection.node_ids
    expected = {directory_for_test(node_id).parts for node_id in node_ids}
    depths = {len(parts) for parts in expected}
    orphans: list[tuple[Path, str | None]] = []
    protected: list[Path] = []
    unreadable: list[tuple[Path, str]] = []
    for path in iter_recordings([root]):
        try:
            document = read_document(path, CODEC)
        except RecordingError as exc:
            if not is_vcrpy_cassette(path):  # a plain vcrpy cassette is not ours to judge
                unreadable.append((path, exc.problem))
            continue
        test_id = test_id_of(document)
        if test_id in node_ids or _suffix_match(path.parent.resolve(), expected, depths):
            continue
        if collection.protects(test_id, path.parent.resolve()):
            protected.append(path)
            continue
        orphans.append((path, test_id))
    removed: list[Path] = []
    if args.yes:
        for path, _ in orphans:
            path.unlink()
        removed = _remove_empty_dirs(root)
    if args.json:
        console.json(
            {
                "collected": len(node_ids),
                "orphans": [{"path": display(p), "test_id": t} for p, t in orphans],
                "unreadable": [{"path": display(p), "problem": problem} for p, problem in unreadable],
                "deleted": bool(args.yes),
                "removed_directories": [display(p) for p in removed],
                "skipped_modules": list(collection.skipped),
                "kept_for_skipped_modules": [display(p) for p in protected],
            }
        )
    else:
        verb = "deleted" if args.yes else "would delete"
        for path, test_id in orphans:
            console.print(f"{verb} {display(path)}  ({test_id or 'no test_id'})")
        for path, problem in unreadable:
            message = "not a readable recording, left alone: " + problem
            console.print(f"{display(path)}: ", console.style(message, "red"))
        for path in removed:
            console.print(f"removed empty directory {display(path)}")
        if protected:
            modules = ", ".join(collection.skipped)
            console.print(
                f"kept {len(protected)} recording(s) of modules pytest skipped while collecting: {modules}"
            )
        summary = f"{len(orphans)} recording(s) of tests pytest no longer collects"
        summary += f" ({len(node_ids)} tests collected)"
        if orphans and not args.yes:
            summary += "; run again with --yes to delete them"
        console.print(console.style(summary, "yellow" if orphans else "green"))
    return EXIT_PROBLEMS if unreadable or (orphans and not args.yes) else EXIT_OK
