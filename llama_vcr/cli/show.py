"""``llama-vcr ls`` (recordings per test) and ``llama-vcr show`` (one recording as a transcript)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import RecordingError
from .._store import read_document
from ..format.codec import CODEC
from ._common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    Console,
    UsageError,
    age_of,
    chunk_count,
    describe_request,
    display,
    human_age,
    human_size,
    is_vcrpy_cassette,
    iter_recordings,
    recorded_time,
    request_body,
    short_name,
    status_of,
    table,
    test_id_of,
)
from .transcript import reply_of, request_messages

# --- ls ----------------------------------------------------------------------------------------------


def _entry(path: Path, document: Mapping[str, Any], root: Path) -> dict[str, Any]:
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


def cmd_ls(args: argparse.Namespace, console: Console) -> int:
    root = Path(args.dir)
    if not root.is_dir():
        raise UsageError(f"no such directory: {root}")
    entries: list[dict[str, Any]] = []
    unreadable = 0
    for path in iter_recordings([root]):
        try:
            document = read_document(path, CODEC)
        except RecordingError as exc:
            if not is_vcrpy_cassette(path):  # plain vcrpy cassettes are not listed
                console.error(f"{display(path)}: cannot read: {exc.problem}")
                unreadable += 1
            continue
        entries.append(_entry(path, document, root))
    entries.sort(key=lambda entry: entry["test"])  # stable: replay order within a test
    if args.json:
        console.json(entries)
        return EXIT_PROBLEMS if unreadable else EXIT_OK
    if not entries:
        console.print(f"no recordings under {display(root)}")
        return EXIT_PROBLEMS if unreadable else EXIT_OK
    header = ["TEST / FILE", "ENDPOINT", "MODEL", "STREAM", "CHUNKS", "SIZE", "AGE"]
    rows = [
        [
            "  " + short_name(e["file"]),
            f"{e['method']} {e['endpoint']}" if e["method"] else e["endpoint"],
            e["model"] or "-",
            "yes" if e["streaming"] else "no",
            "-" if e["chunks"] is None else str(e["chunks"]),
            human_size(e["size"]),
            human_age(e["age_seconds"], days=e["date_only"]),
        ]
        for e in entries
    ]
    lines = table(header, rows, right=(4, 5, 6))
    console.print(console.style(lines[0], "bold"))
    previous = None
    for entry, line in zip(entries, lines[1:], strict=True):
        if entry["test"] != previous:
            console.print(console.style(entry["test"], "cyan"))
            previous = entry["test"]
        console.print(line)
    tests = len({e["test"] for e in entries})
    total = human_size(sum(e["size"] for e in entries))
    console.print(console.style(f"{len(entries)} recordings, {tests} tests, {total}", "dim"))
    return EXIT_PROBLEMS if unreadable else EXIT_OK


# --- show --------------------------------------------------------------------------------------------


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
    console.print(f"{console.style(label + ':', style)} {lines[0]}".rstrip())
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
        console.print(f"{console.style('finish:', 'dim')} {reply['finish_reason']}")
    usage = data["usage"]
    if usage:
        parts = [f"{name} {usage[key]}" for key, name in _USAGE_NAMES if usage.get(key) is not None]
        console.print(f"{console.style('usage:', 'dim')} {', '.join(parts)} tokens")


_USAGE_NAMES = (("prompt_tokens", "prompt"), ("completion_tokens", "completion"), ("total_tokens", "total"))


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        document = read_document(path, CODEC)
    except RecordingError as exc:
        raise UsageError(f"cannot read {display(path)}: {exc.problem}") from exc
    data = transcript(path, document)
    if args.json:
        console.json(data)
    else:
        render_transcript(console, data)
    return EXIT_OK
