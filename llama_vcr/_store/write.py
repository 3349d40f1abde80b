"""Writing recordings: a new file's name and text (:func:`place`), atomic writes, and the
all-or-nothing replacement of a test's files (:func:`stage_recordings`, :func:`recover`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import stat
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .names import RecordingName, recording_files

try:
    import fcntl
except ImportError:  # Windows: saves are not serialised between processes
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from ..format.codec import RecordingCodec


def place(document: dict[str, Any], codec: RecordingCodec, taken: set[str]) -> tuple[str, str, list[str]]:
    """Where and how a new recording is written: ``(file name, text, secret variables scrubbed)``.

    Secret environment values are scrubbed first and the name derives from what is written; a name
    already ``taken`` gets the next occurrence number. The name is added to ``taken``.
    """
    hidden = list(getattr(document, "scrubbed", ()))  # what the codec's redaction already hid
    text, leaked = codec.redactor.scrub(codec.serialize(document))
    if leaked:
        document = codec.deserialize(text)
    leaked = list(dict.fromkeys([*hidden, *leaked]))
    name = RecordingName.of(document).next_free(taken)
    if name.occurrence != document.get("occurrence", 1):
        document["occurrence"] = name.occurrence
        text = codec.serialize(document)
    taken.add(name.filename)
    return name.filename, text, leaked


def today() -> str:
    """``recorded_at``: the UTC date (day precision, so re-recording the same day changes nothing)."""
    return datetime.now(UTC).date().isoformat()


#: Characters of a recording's text encoded at a time: a big stream's file is never held whole
#: as bytes beside its text.
_SLICE = 1 << 20


def _pieces(text: str) -> Iterator[bytes]:
    """``text`` as UTF-8, a slice at a time."""
    for start in range(0, len(text), _SLICE):
        yield text[start : start + _SLICE].encode("utf-8")


def _same_bytes(path: Path, text: str) -> bool:
    """Whether the file at ``path`` holds exactly ``text`` in UTF-8 (compared a slice at a time)."""
    try:
        with open(path, "rb") as handle:
            for piece in _pieces(text):
                if handle.read(len(piece)) != piece:
                    return False
            return handle.read(1) == b""
    except OSError:
        return False


def write_atomically(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` via a temporary file and rename; False if it was already there."""
    if _same_bytes(path, text):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        _write_new(tmp, text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


# -- all-or-nothing replacement of a test's files --------------------------------------------------

#: Names of the hidden directories beside a test's directory that a save stages in:
#: ``.llama-vcr-<key>.tmp`` (being written), ``.new`` (complete: the commit point) and ``.old``
#: (the previous set, while it is swapped out). ``<key>`` derives from the test directory's name,
#: so the names stay short and never clash with another test's; being fixed, checking for them
#: costs three ``lstat`` calls, not a listing of the module's directory.
STAGING_PREFIX = ".llama-vcr-"


def _staging(directory: Path) -> tuple[Path, Path, Path]:
    """``(new, old, tmp)``: the staging directories of a test directory."""
    key = hashlib.sha256(directory.name.encode("utf-8")).hexdigest()[:16]
    base = f"{STAGING_PREFIX}{key}"
    parent = directory.parent
    return parent / f"{base}.new", parent / f"{base}.old", parent / f"{base}.tmp"


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` (which must not exist) holding ``text`` in UTF-8, with the umask's
    permissions, flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    with os.fdopen(fd, "wb") as handle:
        for piece in _pieces(text):
            handle.write(piece)
        handle.flush()
        os.fsync(handle.fileno())


def _sync_dir(directory: Path) -> None:
    """Flush a directory's entries (renames, new files) to disk, where the platform allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _link_or_copy(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> None:
    """A hard link (a kept file costs nothing and keeps its permissions), else a copy."""
    try:
        os.link(source, destination, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, destination, follow_symlinks=False)


def _carry(entry: Path, destination: Path) -> None:
    if entry.is_symlink():
        os.symlink(os.readlink(entry), destination)
    elif entry.is_dir():
        shutil.copytree(entry, destination, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(entry, destination)


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _swap_in(directory: Path) -> None:
    """Put a complete ``.new`` set in ``directory``'s place (the previous set goes to ``.old``, then away)."""
    new, old, _ = _staging(directory)
    if directory.exists() or directory.is_symlink():
        _remove_tree(old)  # a clean-up cut short before: the set in `directory` is the current one
        os.rename(directory, old)
    os.rename(new, directory)
    _sync_dir(directory.parent)
    _remove_tree(old)
    if not any(directory.iterdir()):  # a test that now records nothing has no directory
        directory.rmdir()


def recover(directory: Path) -> None:
    """Finish or undo a replacement of ``directory``'s files that a crash cut short.

    Temporary directories (a set still being written) are removed; a complete new set (``.new``)
    is swapped in; a previous set (``.old``) is removed once its replacement is in place, else put
    back. Called before a test's files are read or staged; other tests' directories are untouched.
    """
    new, old, temporary = _staging(directory)
    if os.path.lexists(temporary):
        _remove_tree(temporary)
    if new.is_dir():
        _swap_in(directory)
    elif os.path.lexists(old):
        if directory.exists():
            _remove_tree(old)
        else:
            os.rename(old, directory)


def _needs_recovery(directory: Path) -> bool:
    return any(os.path.lexists(path) for path in _staging(directory))


@contextmanager
def _locked(directory: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold the lock of the directory that holds ``directory`` (the test module's), shared or
    exclusive, between processes (pytest-xdist workers saving tests of one module, or tests that
    share a directory). Best effort: where a directory cannot be locked, nothing is held."""
    fd: int | None
    try:
        fd = os.open(directory.parent, os.O_RDONLY)
    except OSError:  # (no such directory yet, or Windows)
        fd = None
    try:
        if fd is not None and fcntl is not None:
            with suppress(OSError):  # (a file system without flock)
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # (releases the lock)


@contextmanager
def reading(directory: Path) -> Iterator[None]:
    """Read a test's files inside this: no other process's save swaps them meanwhile, and a save a
    crash cut short is finished (or undone) first (:func:`recover`)."""
    if _needs_recovery(directory):
        with _locked(directory, exclusive=True):
            recover(directory)
    with _locked(directory, exclusive=False):
        yield


def replace_recordings(
    directory: Path, files: Mapping[str, str], drop: Collection[str] = ()
) -> tuple[int, int]:
    """Replace ``directory``'s set of files at once (:func:`stage_recordings`, then commit), holding
    the module directory's lock so that concurrent saves into one directory lose nothing.

    Returns ``(written, removed)``: recording files added or changed, and removed.
    """
    if not files and not directory.exists():
        return 0, 0
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _locked(directory, exclusive=True):
        staged = stage_recordings(directory, files, drop)
        if staged is None:
            return 0, 0
        staged.commit()
        return staged.written, staged.removed


@dataclass
class StagedRecordings:
    """A test's complete new set of files, written beside its directory and not yet in place.

    :meth:`commit` swaps it in (two renames; a crash in between is finished by :func:`recover`),
    :meth:`discard` drops it; the directory keeps its previous set until a commit.
    """

    directory: Path
    staging: Path
    #: Recording files the commit adds or changes, and removes.
    written: int
    removed: int
    #: The directories staging created above the test's directory (removed again by a discard).
    created: tuple[Path, ...] = ()

    def commit(self) -> None:
        new, _, _ = _staging(self.directory)
        _sync_dir(self.staging)
        os.rename(self.staging, new)  # the commit point: from here on the new set wins
        _swap_in(self.directory)

    def discard(self) -> None:
        _remove_tree(self.staging)
        for directory in self.created:  # (deepest first)
            try:
                directory.rmdir()
            except OSError:  # not empty (or gone): something else lives there now
                break


def stage_recordings(
    directory: Path, files: Mapping[str, str], drop: Collection[str] = ()
) -> StagedRecordings | None:
    """Stage ``directory``'s new set: what it holds now, less the recording files named in ``drop``,
    with ``files`` (name -> text) added or replacing theirs. None if that changes no file.

    Everything else in the directory (other tests' recordings, files that are not recordings) is
    carried over as it is. Kept files are hard links (else copies); new ones are written with the
    umask's permissions. An error or an interrupt while staging leaves nothing behind.
    """
    recover(directory)
    current = {path.name: path for path in recording_files(directory)}
    written = {name for name, text in files.items() if not _holds(current.get(name), text)}
    removed = {name for name in drop if name in current and name not in files}
    if not written and not removed:
        return None
    _, _, staging = _staging(directory)
    created = tuple(parent for parent in directory.parents if not parent.exists())
    directory.parent.mkdir(parents=True, exist_ok=True)
    os.mkdir(staging)
    try:
        if directory.is_dir():
            for entry in directory.iterdir():  # (a file `files` holds unchanged is kept too)
                if entry.name not in removed and entry.name not in written:
                    _carry(entry, staging / entry.name)
        for name in sorted(written):
            _write_new(staging / name, files[name])
    except BaseException:
        StagedRecordings(directory, staging, 0, 0, created).discard()
        raise
    return StagedRecordings(directory, staging, written=len(written), removed=len(removed), created=created)


def _holds(path: Path | None, text: str) -> bool:
    """Whether ``path`` is a regular file holding exactly ``text`` in UTF-8."""
    if path is None:
        return False
    try:
        return stat.S_ISREG(os.lstat(path).st_mode) and _same_bytes(path, text)
    except OSError:
        return False
