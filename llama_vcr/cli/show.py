"""``llama-vcr show``: recordings as transcripts, found by file, by short hash, or by test.

``show`` takes a recording file; the short hash ``ls`` prints (``3e85d726f826``, ``3e85d726f826-2``;
up to the full 64); or a pytest node id (``tests/test_x.py::test_name``: every recording of that
test, parametrized variants and a class's methods included, one after another). Hashes and node
ids are looked up in the cassette directory (``--dir``, else the project's pytest configuration).
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import RecordingError
from .._redact import Redactor
from .._store import read_document, recording_files
from ..format.codec import CODEC, position_of
from ._common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    Console,
    UsageError,
    cassette_dir,
    chunk_count,
    describe_request,
    directory_for_test,
    display,
    iter_recordings,
    printable,
    printable_data,
    request_body,
    status_of,
    test_id_of,
)
from ._config import find_config
from .transcript import reply_of, request_messages

#: A short hash as ``ls`` prints it (``…`` optional), an occurrence (``-2``) or a llama-stack suffix.
_SHORT_HASH = re.compile(
    r"^(?P<models>models-)?(?P<hex>[0-9a-f]{12,64})…?(?P<suffix>-[0-9a-f]+)?(?:\.json)?$"
)
_RECORDING_NAME = re.compile(r"^(?P<models>models-)?(?P<hex>[0-9a-f]{12,64})(?P<suffix>-[0-9a-f]+)?\.json$")


def transcript(path: Path, document: Mapping[str, Any]) -> dict[str, Any]:
    """The structured transcript ``show --json`` prints."""
    info = describe_request(document)
    response = document.get("response") or {}
    status = status_of(document)
    reply = reply_of(response.get("body"), bool(response.get("is_streaming")))
    error = reply.pop("error")
    if response.get("is_exception"):
        error = str(
            response.get("exception_message") or (response.get("exception_data") or {}).get("message")
        )
    return {
        "file": display(path),
        "test_id": test_id_of(document),
        "recorded_at": document.get("recorded_at"),
        "method": info.method,
        "endpoint": info.endpoint,
        "model": info.model,
        "status": status,
        "streaming": bool(response.get("is_streaming")),
        "chunks": chunk_count(document),
        "messages": request_messages(request_body(document), info.endpoint),
        "reply": reply,
        "usage": reply.pop("usage"),
        "error": error,
    }


def _block(console: Console, label: str, text: str, style: str) -> None:
    lines = text.splitlines() or [""]
    first = f" {lines[0]}".rstrip()
    console.print(console.style(label + ":", style), first)
    for line in lines[1:]:
        console.print(f"    {line}".rstrip())


def _calls(console: Console, label: str, calls: list[dict[str, Any]], style: str) -> None:
    for call in calls:
        _block(console, label, f"→ {call['name']}({call['arguments'] or ''})", style)


def render_transcript(console: Console, data: Mapping[str, Any]) -> None:
    stream = f"streamed, {data['chunks']} chunks" if data["streaming"] else "not streamed"
    status = data["status"] if data["status"] is not None else "error"
    head = f"{data['method']} {data['endpoint']}" if data["method"] else data["endpoint"]
    console.print(console.style(f"{head}  model={data['model'] or '-'}  ({stream}, status {status})", "bold"))
    console.print(console.style(f"test: {data['test_id'] or '-'}", "dim"))
    console.print(console.style(f"file: {data['file']}", "dim"))
    if data["recorded_at"]:
        console.print(console.style(f"recorded: {data['recorded_at']}", "dim"))
    if data["messages"]:
        console.print()
    for message in data["messages"]:
        role = message["role"]
        if message.get("tool_call_id"):
            role = f"{role} [{message['tool_call_id']}]"
        if message["content"] or not message.get("tool_calls"):
            _block(console, role, message["content"], "cyan")
        _calls(console, role, message.get("tool_calls", []), "cyan")
    reply = data["reply"]
    console.print()
    if data["error"]:
        _block(console, f"error (status {status})", data["error"], "red")
    label = f"reply ({reply['role']})" if reply["role"] else "reply"
    if reply["text"] or not (reply["tool_calls"] or reply["summary"] or data["error"]):
        _block(console, label, reply["text"], "green")
    _calls(console, label, reply["tool_calls"], "green")
    if reply["summary"]:
        _block(console, label, reply["summary"], "green")
    if reply["finish_reason"]:
        console.print(console.style("finish:", "dim"), f" {reply['finish_reason']}")
    usage = data["usage"]
    if usage:
        parts = [f"{name} {usage[key]}" for key, name in _USAGE_NAMES if usage.get(key) is not None]
        console.print(console.style("usage:", "dim"), f" {', '.join(parts)} tokens")


_USAGE_NAMES = (("prompt_tokens", "prompt"), ("completion_tokens", "completion"), ("total_tokens", "total"))


def _by_short_hash(query: re.Match[str], root: Path) -> Path:
    """The one recording under ``root`` whose name the short hash names (else :class:`UsageError`)."""
    found = []
    for path in iter_recordings([root]):
        name = _RECORDING_NAME.match(path.name)
        if (
            name is not None
            and name["hex"].startswith(query["hex"])
            and name["suffix"] == query["suffix"]
            and (name["models"] or not query["models"])
        ):
            found.append(path)
    if not found:
        raise UsageError(f"no recording named {query.string} under {display(root)} (llama-vcr ls lists them)")
    if len(found) > 1:
        candidates = "".join(f"\n  {display(path)}" for path in found)
        raise UsageError(f"{query.string} names {len(found)} recordings; show one of them:{candidates}")
    return found[0]


def _replay_order(folder: Path, root: Path) -> list[Path]:
    """A test directory's recordings in replay order: by ``position``, then (files without one,
    or unreadable) by name."""

    def position(path: Path) -> int | None:
        try:
            return position_of(read_document(path, CODEC, root=root))
        except RecordingError:
            return None

    files = [(position(path), path) for path in recording_files(folder)]
    return [path for number, path in sorted(files, key=lambda item: (item[0] is None, item[0] or 0))]


def _of_test(node_id: str, root: Path) -> list[Path]:
    """Every recording of a test (or of a test's parameters, or of a class's methods), in replay
    order: from the test's directory, else (moved or converted files) by their ``test_id``."""
    try:
        directory = root / directory_for_test(node_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    variants = (directory.name + "[", directory.name + ".")
    siblings = sorted(directory.parent.iterdir()) if directory.parent.is_dir() else []
    directories = [path for path in siblings if path == directory or path.name.startswith(variants)]
    found = [path for folder in directories if folder.is_dir() for path in _replay_order(folder, root)]
    if found:
        return found
    for path in iter_recordings([root]):
        try:
            test_id = test_id_of(read_document(path, CODEC, root=root))
        except RecordingError:
            continue
        if test_id == node_id or (test_id or "").startswith((node_id + "[", node_id + "::")):
            found.append(path)
    if not found:
        raise UsageError(f"no recordings of {node_id} under {display(root)}")
    return found


def find_recordings(target: str, directory: str | None) -> tuple[list[Path], bool]:
    """The files ``show TARGET`` shows, and whether TARGET named a test (``--json`` prints a list)."""
    path = Path(target)
    if path.is_dir():
        raise UsageError(
            f"{target} is a directory, not a recording; to list its recordings: "
            f"llama-vcr ls {shlex.quote(target)}"
        )
    if path.is_file():
        return [path], False
    if "::" in target:
        return _of_test(target, cassette_dir(directory)), True
    query = _SHORT_HASH.match(target.lower())
    if query is not None:
        return [_by_short_hash(query, cassette_dir(directory))], False
    raise UsageError(f"no such file: {path}")


def _redactor() -> Redactor:
    """The project's redaction policy: ``show`` masks every secret it knows (``sk-pro…``)."""
    try:
        return find_config().redactor()
    except UsageError:  # an unreadable configuration: the default policy still masks
        return Redactor.from_names()


def _failure(exc: Exception) -> str:
    return f"cannot show it ({type(exc).__name__}: {exc})"


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    paths, of_test = find_recordings(args.target, args.dir)
    # a recording found in the cassette directory is read only from within it; one named, from its own
    root = None if Path(args.target).is_file() else cassette_dir(args.dir)
    redactor = _redactor()
    shown: list[dict[str, Any]] = []
    unreadable = 0
    for index, path in enumerate(paths, 1):
        try:
            document = read_document(path, CODEC, root=root)
            # recorded text is untrusted: terminal control sequences never reach the terminal
            data = printable_data(redactor.mask_value(transcript(path, document)))
        except Exception as exc:  # unreadable, or too malformed to show: reported, the others shown
            problem = redactor.mask(exc.problem if isinstance(exc, RecordingError) else _failure(exc))
            if not of_test:
                raise UsageError(printable(f"cannot read {display(path)}: {problem}")) from exc
            console.error(printable(f"{display(path)}: cannot read: {problem}"))
            unreadable += 1
            continue
        shown.append(data)
        if args.json:
            continue
        if len(paths) > 1:
            if index > 1:
                console.print()
            console.print(console.style(f"── {index}/{len(paths)} ──", "dim"))
        render_transcript(console, data)
    if args.json:
        console.json(shown if of_test else shown[0])
    return EXIT_PROBLEMS if unreadable else EXIT_OK
