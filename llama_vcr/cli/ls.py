"""``llama-vcr ls``: the recordings of each test, one row each, as a table trimmed to the terminal."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import RecordingError
from .._store import read_document
from ..format.codec import CODEC, position_of
from ._common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    Console,
    age_of,
    cassette_dir,
    chunk_count,
    describe_request,
    display,
    human_age,
    human_size,
    is_vcrpy_cassette,
    iter_recordings,
    printable,
    printable_data,
    recorded_time,
    short_name,
    status_of,
    test_id_of,
)

HEADER = ("TEST / FILE", "ENDPOINT", "MODEL", "STREAM", "CHUNKS", "SIZE", "AGE")
#: Right-aligned columns (the numbers), and the columns cut first on a narrow terminal.
_RIGHT = (4, 5, 6)
_FLEXIBLE = (1, 2)


def entry(path: Path, document: Mapping[str, Any], root: Path) -> dict[str, Any]:
    """One object of ``ls --json``."""
    info = describe_request(document)
    test_id = test_id_of(document)
    if test_id is None:
        parent = path.parent.relative_to(root) if path.parent.is_relative_to(root) else path.parent
        test = f"{parent.as_posix()}/" if str(parent) != "." else f"{display(root)}/"
    else:
        test = test_id
    stamp, source = recorded_time(document, path)
    return {
        "test": test,
        "test_id": test_id,
        "path": display(path),
        "file": path.name,
        "position": position_of(document),
        "method": info.method,
        "endpoint": info.endpoint,
        "model": info.model,
        "streaming": bool((document.get("response") or {}).get("is_streaming")),
        "chunks": chunk_count(document),
        "status": status_of(document),
        "size": path.stat().st_size,
        "recorded": stamp,
        "recorded_from": source,
        "age_seconds": round(age_of(stamp)),
        "date_only": source == "recorded_at" and len(str(document.get("recorded_at"))) == 10,
    }


def _row(e: Mapping[str, Any]) -> list[str]:
    return [
        "  " + short_name(e["file"]),
        f"{e['method']} {e['endpoint']}" if e["method"] else e["endpoint"],
        e["model"] or "-",
        "yes" if e["streaming"] else "no",
        "-" if e["chunks"] is None else str(e["chunks"]),
        human_size(e["size"]),
        human_age(e["age_seconds"], days=e["date_only"]),
    ]


def cmd_ls(args: argparse.Namespace, console: Console) -> int:
    root = cassette_dir(args.dir)
    entries: list[dict[str, Any]] = []
    unreadable = 0
    for path in iter_recordings([root]):
        try:
            entries.append(entry(path, read_document(path, CODEC, root=root), root))
        except RecordingError as exc:
            if not is_vcrpy_cassette(path):  # plain vcrpy cassettes are not listed
                console.error(printable(f"{display(path)}: cannot read: {exc.problem}"))
                unreadable += 1
        except Exception as exc:  # a recording too odd to describe: reported, and the others listed
            console.error(printable(f"{display(path)}: cannot list: {type(exc).__name__}: {exc}"))
            unreadable += 1
    # replay order within a test: by position (files without one after), else by name (stable)
    entries.sort(key=lambda e: (e["test"], e["position"] is None, e["position"] or 0))
    status = EXIT_PROBLEMS if unreadable else EXIT_OK
    if args.json:
        console.json(printable_data(entries))
        return status
    if not entries:
        console.print(f"no recordings under {display(root)}")
        return status
    rows = [[printable(cell) for cell in _row(e)] for e in entries]  # (recorded text: untrusted)
    groups = [printable(e["test"]) for e in entries]
    console.table(HEADER, rows, right=_RIGHT, flexible=_FLEXIBLE, groups=groups)
    tests = len({e["test"] for e in entries})
    total = human_size(sum(e["size"] for e in entries))
    console.print(console.style(f"{len(entries)} recordings, {tests} tests, {total}", "dim"))
    return status
