"""Reading recording files: only regular files inside the cassette root, at most the size limit,
strict JSON; every problem a :class:`~llama_vcr.RecordingError` naming the file.
"""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import RecordingError
from .names import recording_files, same_test

try:
    import fcntl
except ImportError:  # Windows: saves are not serialised between processes
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from ..format.codec import RecordingCodec


DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024
_SIZE = re.compile(r"\s*(\d+)\s*(?:([kmg])(?:i?b)?|b)?\s*", re.IGNORECASE)


def parse_size(value: str | int) -> int:
    """Bytes from ``64M``, ``512KiB``, ``1G`` or a plain number (K = 1024); ValueError if not a size."""
    match = _SIZE.fullmatch(str(value))
    if match is None or int(match[1]) < 1:
        raise ValueError(f"not a size in bytes (like 64M, 512K or 1048576): {value!r}")
    size: int = int(match[1]) * 1024 ** " kmg".index((match[2] or " ").lower())
    return size


_LIMIT = " (ini option llama_vcr_max_file_size)"


def _human_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def _not_regular(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "Is a directory, not a recording file"
    kinds = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device"}
    kinds |= {stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}
    kind = kinds.get(stat.S_IFMT(mode), "not a file")
    return f"{kind}, not a regular file: recordings are read only from regular files"


def _below(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@lru_cache(maxsize=1024)
def _real_directory(directory: str) -> str:
    """A directory's path with every symbolic link resolved (cached: called for every file read)."""
    return os.path.realpath(directory)


def read_recording(path: Path, *, root: Path | None = None, max_size: int | None = None) -> bytes:
    """The bytes of a recording file; raises :class:`~llama_vcr.RecordingError` naming the file.

    A recording is untrusted input, so only a regular file is read, only if it lies within ``root``
    (the cassette directory; default: the file's own directory) once symbolic links are resolved,
    and at most ``max_size`` bytes of it (default :data:`DEFAULT_MAX_FILE_SIZE`). Symbolic links
    within ``root`` are followed; FIFOs, devices and sockets are never opened.
    """
    limit = DEFAULT_MAX_FILE_SIZE if max_size is None else max_size
    base = os.path.abspath(root if root is not None else path.parent)
    try:
        info = os.lstat(path)
        link = stat.S_ISLNK(info.st_mode)
        if link:
            target = os.path.realpath(path)
        else:  # the file is no link, but a directory on its path may be
            target = os.path.join(_real_directory(os.path.dirname(os.path.abspath(path))), path.name)
        if not _below(target, _real_directory(base)):
            what = (
                f"a symbolic link to {os.readlink(path)!r}" if link else f"in a linked directory ({target})"
            )
            raise RecordingError(
                path,
                f"{what}, outside {base}: recordings are read only from files inside the cassette directory",
            )
        if link:
            info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise RecordingError(path, _not_regular(info.st_mode))
        if info.st_size > limit:
            raise RecordingError(
                path, f"{info.st_size} bytes, larger than the {_human_size(limit)} limit{_LIMIT}"
            )
        flags = (
            os.O_RDONLY
            | getattr(os, "O_NONBLOCK", 0)
            | getattr(os, "O_NOCTTY", 0)
            | getattr(os, "O_BINARY", 0)
        )
        with os.fdopen(os.open(path, flags), "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):  # (replaced since it was looked at)
                raise RecordingError(path, _not_regular(mode))
            data = handle.read(min(info.st_size, limit) + 1)  # (not a buffer of the limit's size)
            if info.st_size < len(data) <= limit:  # the file grew since it was looked at
                data += handle.read(limit + 1 - len(data))
    except OSError as exc:
        raise RecordingError(path, exc.strerror or str(exc)) from exc
    if len(data) > limit:
        raise RecordingError(path, f"larger than the {_human_size(limit)} limit{_LIMIT}")
    return data


def read_recording_text(path: Path, *, root: Path | None = None, max_size: int | None = None) -> str:
    """The text of a recording file (UTF-8; see :func:`read_recording`); raises
    :class:`~llama_vcr.RecordingError` naming the file."""
    data = read_recording(path, root=root, max_size=max_size)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordingError(path, f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc


def read_document(
    path: Path,
    codec: RecordingCodec,
    *,
    root: Path | None = None,
    max_size: int | None = None,
    stream_lines: bool = False,
) -> dict[str, Any]:
    """A recording file's document (``root``, ``max_size``: see :func:`read_recording`); raises
    :class:`~llama_vcr.RecordingError` naming the file and what is wrong (the field, if one is).

    The document is strict JSON in UTF-8 with a ``request`` and a ``response`` object; its fields
    are checked when it is decoded (``codec.decode``). The file's bytes are parsed as they are
    (no text copy of a big file is made unless the file is refused). ``stream_lines``: a stream's
    chunks may be read line by line, for replay (see ``RecordingCodec.deserialize``).
    """
    data = read_recording(path, root=root, max_size=max_size)
    return document_of(path, data, codec, stream_lines=stream_lines)


def document_of(
    path: Path, text: str | bytes, codec: RecordingCodec, *, stream_lines: bool = False
) -> dict[str, Any]:
    """The document of a recording file's ``text`` or bytes (see :func:`read_document`)."""
    if _blank(text):
        raise RecordingError(path, "the file is empty")
    try:
        return codec.deserialize(text, stream_lines=stream_lines)
    except ValueError as exc:  # RecordingFormatError
        raise RecordingError(path, str(exc)) from exc
    except RecursionError as exc:  # (deserialize bounds the nesting: never expected)
        raise RecordingError(path, "arrays and objects nested too deep") from exc


#: ASCII whitespace, then the first byte of a JSON value: a file that is not blank (no copy made).
_VALUE_START = re.compile(rb'[ \t\n\r\x0b\x0c]*[\[{"tfn0-9-]')


def _blank(text: str | bytes) -> bool:
    """Whether ``text`` is only whitespace (Unicode's, as ``str.strip`` sees it, for bytes too)."""
    if isinstance(text, str):
        return not text.strip()
    if _VALUE_START.match(text):
        return False
    return not text.decode("utf-8", "replace").strip()


def age_in_days(recorded_at: object) -> int | None:
    """Whole days since a ``recorded_at`` value, or None if it is missing or not a date."""
    if not recorded_at:
        return None
    try:
        recorded = date.fromisoformat(str(recorded_at)[:10])
    except ValueError:
        return None  # a hand-edited date: never expired (verify reports it)
    return (datetime.now(UTC).date() - recorded).days


def recorded_test_id(path: Path) -> str | None:
    """The ``test_id`` a recording file names, or None (none recorded, or not a readable recording)."""
    try:
        document = json.loads(read_recording_text(path))
    except (RecordingError, ValueError, RecursionError):
        return None
    test_id = document.get("test_id") if isinstance(document, dict) else None
    return test_id if isinstance(test_id, str) and test_id else None


def belongs_to(directory: Path, test_id: str) -> bool:
    """Whether ``directory`` holds recordings and each one that names a test names ``test_id``."""
    files = recording_files(directory)
    for path in files:
        recorded = recorded_test_id(path)
        if recorded is not None and not same_test(recorded, test_id):
            return False
    return bool(files)
