"""``llama-vcr prune``: remove recordings of tests that no longer exist (asks pytest what it collects)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
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
class ExtraCassette:
    """An extra cassette a collected test names on its marker: ``@pytest.mark.vcr("path")``.

    ``base`` is the directory a relative ``path`` is read from (the test's ``vcr_cassette_dir``),
    None when a project's own ``vcr_cassette_dir`` fixture decides it (known only by running it).
    """

    test_id: str
    path: str
    base: str | None

    def reads(self, recording: Path, root: Path) -> bool:
        """Whether the test may read ``recording`` (a resolved path) through this extra cassette.

        Without ``base``, a relative path is tried from llama-vcr's default directory for the
        test's module (below ``root``), and matched by its end as well (``../test_x/test_y`` keeps
        every recording in a ``test_x/test_y`` directory): keeping too much is harmless.
        """
        path = os.path.normpath(self.path)
        targets: list[Path] = []
        if os.path.isabs(path):
            targets.append(Path(path))
        elif self.base is not None:
            targets.append(Path(os.path.normpath(os.path.join(self.base, path))))
        else:
            with_module = directory_for_test(self.test_id).parent / path
            targets.append(Path(os.path.normpath(root.resolve() / with_module)))
            tail = tuple(part for part in PurePosixPath(path.replace(os.sep, "/")).parts if part != "..")
            if tail and any(where.parts[-len(tail) :] == tail for where in (recording, *recording.parents)):
                return True
        return any(
            target == recording or target in recording.parents
            for target in (target.resolve() for target in targets)
        )


@dataclass(frozen=True)
class Collection:
    """What pytest collected: node ids, the paths of modules (or conftests) it skipped, and the
    extra cassettes the collected tests name on their markers."""

    node_ids: frozenset[str]
    skipped: tuple[str, ...]
    extras: tuple[ExtraCassette, ...] = ()

    def read_as_extra(self, recording: Path, root: Path) -> bool:
        """Whether a collected test reads ``recording`` (resolved) through an extra cassette."""
        return any(extra.reads(recording, root) for extra in self.extras)

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
    missing from the ids, so their recordings must be kept. The extra cassettes tests name on
    their markers come from a plugin loaded into that run (:mod:`llama_vcr.cli._prune_collect`).
    """
    from ._prune_collect import EXTRAS_ENV

    command = [
        sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        "--verbosity=-1",
        "-rs",
        "-p",
        "no:cacheprovider",
        "-p",
        "llama_vcr.cli._prune_collect",
    ]
    if rootdir is not None:
        command.append(f"--rootdir={rootdir.resolve()}")
    with tempfile.TemporaryDirectory(prefix="llama-vcr-prune-") as scratch:
        extras_file = Path(scratch) / "extras.json"
        env = {**os.environ, EXTRAS_ENV: str(extras_file)}
        result = subprocess.run(command, cwd=rootdir, capture_output=True, text=True, check=False, env=env)
        extras_text = extras_file.read_text(encoding="utf-8") if extras_file.is_file() else None
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
    if extras_text is None:
        raise UsageError(f"cannot learn which extra cassettes the tests in {where} read; not pruning")
    extras = tuple(
        ExtraCassette(str(entry["test"]), str(path), entry.get("base"))
        for entry in json.loads(extras_text)
        for path in entry["paths"]
    )
    return Collection(frozenset(node_ids), skipped, extras)


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
    # a test's directory, or the one pytest-recording's name gives it (llama-vcr still reads it)
    expected = {
        directory_for_test(node_id, legacy=legacy).parts for node_id in node_ids for legacy in (False, True)
    }
    depths = {len(parts) for parts in expected}
    orphans: list[tuple[Path, str | None]] = []
    protected: list[Path] = []
    read_as_extra: list[Path] = []
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
        if collection.read_as_extra(path.resolve(), root):
            read_as_extra.append(path)
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
                "kept_as_extra_cassettes": [display(p) for p in read_as_extra],
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
        if read_as_extra:
            console.print(
                f"kept {len(read_as_extra)} recording(s) that collected tests read as extra cassettes "
                "(@pytest.mark.vcr(...))"
            )
        summary = f"{len(orphans)} recording(s) of tests pytest no longer collects"
        summary += f" ({len(node_ids)} tests collected)"
        if orphans and not args.yes:
            summary += "; run again with --yes to delete them"
        console.print(console.style(summary, "yellow" if orphans else "green"))
    return EXIT_PROBLEMS if unreadable or (orphans and not args.yes) else EXIT_OK
