"""Shared pieces of the ``llama-vcr`` command line: finding and describing recordings.

Output (colour, tables) is :mod:`llama_vcr.cli._console`; the project's pytest settings are
:mod:`llama_vcr.cli._config`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from .._canonical import endpoint_of
from ._config import ProjectConfig, find_config
from ._console import EXIT_OK as EXIT_OK
from ._console import EXIT_PROBLEMS as EXIT_PROBLEMS
from ._console import EXIT_USAGE as EXIT_USAGE
from ._console import Console as Console
from ._console import UsageError as UsageError

#: Characters pytest-recording replaces with ``-`` in a cassette name (``get_default_cassette_name``).
FORBIDDEN_IN_NAME = "<>?%*:|\"'/\\"
#: Directory (under the destination) for recordings that name no test.
SESSION_DIR = "_session"

_LONG_HASH = re.compile(r"[0-9a-f]{64}")


def human_size(size: int) -> str:
    """``512B``, ``9.4K``, ``1.2M``."""
    value = float(size)
    for unit in ("B", "K", "M"):
        if value < 1024:
            return f"{int(value)}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}G"


def human_age(seconds: float, *, days: bool = False) -> str:
    """``42s``, ``5m``, ``3h``, ``12d``, ``2y`` (the future counts as now); ``days`` for a date-only time."""
    seconds = max(0.0, seconds)
    units = ((60, 1, "s"), (3600, 60, "m"), (86400, 3600, "h"), (365 * 86400, 86400, "d"))
    for limit, divisor, unit in units[3:] if days else units:
        if seconds < limit:
            return f"{int(seconds // divisor)}{unit}"
    return f"{int(seconds // (365 * 86400))}y"


def recorded_time(document: Mapping[str, Any], path: Path) -> tuple[float, str]:
    """When a recording was made: its ``recorded_at`` (ISO 8601 or epoch) if any, else the file's mtime."""
    value = document.get("recorded_at")
    stamp: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        stamp = float(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            stamp = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    if stamp is not None:
        return stamp, "recorded_at"
    return path.stat().st_mtime, "mtime"


def age_of(stamp: float) -> float:
    return time.time() - stamp


def iter_recordings(paths: Iterable[Path]) -> list[Path]:
    """Recording files named by ``paths``: files as given, directories searched recursively.

    Hidden files and directories are skipped; within a directory files come in replay order.
    Raises :class:`UsageError` for a path that does not exist.
    """
    from .._store import recording_files  # (not at import: `llama-vcr --help` stays light)

    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            for current, dirnames, _ in os.walk(path):
                dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
                found.extend(recording_files(Path(current)))
        else:
            raise UsageError(f"no such file or directory: {path}")
    return found


def cassette_dir(given: str | None, config: ProjectConfig | None = None) -> Path:
    """``DIR`` as given, else the project's ``llama_vcr_cassette_dir``; it must be a directory.

    Raises :class:`UsageError` (naming where a default came from) if it is not.
    """
    if given is not None:
        path = Path(given)
        if not path.is_dir():
            raise UsageError(f"no such directory: {path}")
        return path
    config = config or find_config()
    path = config.cassette_dir
    if not path.is_dir():
        raise UsageError(f"no such directory: {display(path)} ({config.describe_cassette_dir()})")
    return path


def is_vcrpy_cassette(path: Path, text: str | None = None) -> bool:
    """A plain vcrpy JSON cassette (a test that opted out with ``"serializer": "json"``).

    ``text``: the file's text, if read already. Otherwise it is read as a recording is (a FIFO or
    a device is never opened, a huge file never read whole).
    """
    from .._errors import RecordingError
    from .._store import read_recording_text

    try:
        data = json.loads(read_recording_text(path) if text is None else text)
    except (RecordingError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and isinstance(data.get("interactions"), list)


#: Terminal control sequences: CSI (``ESC [`` or U+009B) ... final byte; OSC, DCS, SOS, PM, APC
#: strings up to their terminator; other ``ESC`` sequences. Then every C0/C1 control but ``\n``
#: and ``\t`` (and DEL), and lone surrogates (which cannot be printed).
_CONTROL_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control sequences (ANSI escapes: colours, cursor moves,
    window titles, hyperlinks) and other control characters, except newline and tab, removed;
    lone surrogates replaced by U+FFFD. Recorded text is untrusted: it comes from a server, or
    from a pull request."""
    if text.isprintable() or not _CONTROL_CHARACTER.search(text):
        return text
    text = _CONTROL_SEQUENCE.sub("", text)
    return _CONTROL_CHARACTER.sub(lambda m: "\ufffd" if "\ud800" <= m.group() <= "\udfff" else "", text)


def printable_data(value: Any) -> Any:
    """``value`` (JSON-like) with :func:`printable` applied to every string in it, keys included."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(key)): printable_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_data(item) for item in value]
    return value


def short_name(name: str) -> str:
    """A file name with every 64-hex hash cut to 12 characters (``3e85d726f826…-2``)."""
    stem = name[:-5] if name.endswith(".json") else name
    return _LONG_HASH.sub(lambda match: match.group(0)[:12] + "…", stem)


@dataclass(frozen=True)
class RequestInfo:
    """What a recording's request was: ``method`` is None for llama-stack ``tool_invoke`` records."""

    method: str | None
    endpoint: str
    model: str | None

    @property
    def label(self) -> str:
        return f"{self.method} {self.endpoint}" if self.method else self.endpoint


def request_body(document: Mapping[str, Any]) -> Any:
    """The request body (llama-stack's later raw-HTTP records call it ``payload``)."""
    request = document.get("request") or {}
    if "tool_name" in request and "body" not in request:  # llama-stack tool_invoke records
        return {key: request[key] for key in ("tool_name", "kwargs") if key in request}
    return request.get("body", request.get("payload"))


def describe_request(document: Mapping[str, Any]) -> RequestInfo:
    request = document.get("request") or {}
    if "tool_name" in request:
        return RequestInfo(None, f"tool:{request.get('provider')}.{request['tool_name']}", None)
    method = request.get("method")
    endpoint = request.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        url = request.get("url")
        endpoint = endpoint_of(url) if isinstance(url, str) else "?"
    model = request.get("model")
    if not isinstance(model, str):
        body = request_body(document)
        model = body.get("model") if isinstance(body, dict) else None
    return RequestInfo(
        str(method).upper() if method else None, endpoint, model if isinstance(model, str) else None
    )


def status_of(document: Mapping[str, Any]) -> int | None:
    """The HTTP status: ``status`` if recorded, a llama-stack exception's code, else 200."""
    response = document.get("response") or {}
    if isinstance(response.get("status"), int):
        return int(response["status"])
    if response.get("is_exception"):
        code = (response.get("exception_data") or {}).get("status_code")
        return code if isinstance(code, int) else None
    return 200


def chunk_count(document: Mapping[str, Any]) -> int | None:
    response = document.get("response") or {}
    body = response.get("body")
    return len(body) if response.get("is_streaming") and isinstance(body, list) else None


def test_id_of(document: Mapping[str, Any]) -> str | None:
    test_id = document.get("test_id")
    return test_id if isinstance(test_id, str) and test_id else None


def cassette_name(test_id: str, *, legacy: bool = False) -> str:
    """The per-test directory name llama-vcr derives for a node id (``Class.test[param]``, made
    distinct where pytest-recording's rules would give two tests one name; see
    ``llama_vcr._store.directory_name``). ``legacy``: pytest-recording's name, which
    llama-vcr used for every test before and still reads where a test's recordings are there."""
    from .._store import directory_name, legacy_directory_name

    return legacy_directory_name(test_id) if legacy else directory_name(test_id)


def directory_for_test(test_id: str, *, legacy: bool = False) -> PurePosixPath:
    """``<module path without .py>/<cassette name>``: where a test's recordings live in the cassette dir.

    Raises :class:`ValueError` for an id that is not ``path/to/module.py::name``.
    """
    module, sep, rest = test_id.partition("::")
    if not sep or not module or not rest:
        raise ValueError(f"not a pytest node id (path/to/test_module.py::test_name): {test_id!r}")
    module_path = PurePosixPath(module.replace("\\", "/"))
    if module_path.suffix == ".py":
        module_path = module_path.with_suffix("")
    parts = [part for part in module_path.parts if part not in ("/", ".", "..")]
    return PurePosixPath(*parts, stored_name(cassette_name(test_id, legacy=legacy)))


#: pytest-recording shortens a cassette name longer than this (less its serializer's name).
_MAX_NAME = 255
_SERIALIZER = "llama_vcr"  # (llama_vcr._vcrpy.SERIALIZER_NAME; the CLI does not import vcrpy)


def stored_name(name: str) -> str:
    """A test directory's name as it is on disk: pytest-recording shortens a name too long for a
    file name to ``<prefix>...<md5 of the name>`` (its ``_vcr.py``; ``llama_vcr._fixtures``)."""
    if len(name) + len(_SERIALIZER) <= _MAX_NAME:
        return name
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
    return f"{name[: _MAX_NAME - len(_SERIALIZER) - len(digest) - 3]}...{digest}"


def display(path: Path) -> str:
    """A path as the user would type it: relative to the current directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) if path.is_absolute() else str(path)
    except ValueError:
        return str(path)
