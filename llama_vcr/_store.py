"""The store: where recordings live on disk and how their files are named, read and written.

Pure file-system code, shared by the pytest plugin (through the vcrpy persister) and the CLI;
it imports neither vcrpy nor pytest.

Layout::

    <cassette dir>/<test module path without .py>/<test name>/<sha256>[-<n>].json

A file name is a :class:`RecordingName`: the request hash (llama-stack's recipe, see
:func:`llama_vcr._canonical.request_hash`) and, for the n-th repeat of the same request in one
test, ``-<n>`` (``occurrence`` in the file). The test name is pytest-recording's cassette name,
made distinct where its rules would give two tests one directory (:func:`directory_name`).

A test's files are replaced all at once (:func:`stage_recordings`): its whole new set is written
to a hidden directory beside its directory, then swapped in by renames; a crash at any point
leaves the complete old set or the complete new set (:func:`recover` finishes or undoes a swap
that was cut short). Files are written with the umask's permissions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ._errors import RecordingError

try:
    import fcntl
except ImportError:  # Windows: saves are not serialised between processes
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from .format.codec import RecordingCodec

#: Suffixes pytest-recording's path transformer appends to a cassette name.
CASSETTE_SUFFIXES = (".llama_vcr", ".yaml")
_NAME = re.compile(r"^(?P<digest>[0-9a-f]{64})(?:-(?P<occurrence>[1-9]\d*))?\.json$")


@dataclass(frozen=True, order=True)
class RecordingName:
    """A recording's file name: ``<digest>.json`` or, for ``occurrence`` n > 1, ``<digest>-<n>.json``.

    Ordered by digest then occurrence: the order a directory's files load in.
    """

    digest: str
    occurrence: int = 1

    @classmethod
    def parse(cls, name: str) -> RecordingName | None:
        """The name ``name`` stands for, or None if it is not a llama-vcr file name."""
        match = _NAME.match(name)
        if match is None:
            return None
        return cls(match["digest"], int(match["occurrence"] or 1))

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> RecordingName:
        """The name a document's content derives (request hash of its method, endpoint, body, test)."""
        from ._canonical import endpoint_of, request_hash

        request = document["request"]
        digest = request_hash(
            request["method"], endpoint_of(request["url"]), request["body"], document["test_id"]
        )
        return cls(digest, int(document.get("occurrence", 1)))

    @property
    def filename(self) -> str:
        return f"{self.digest}.json" if self.occurrence == 1 else f"{self.digest}-{self.occurrence}.json"

    @property
    def short(self) -> str:
        """The 12-hex prefix ``llama-vcr ls`` prints (and ``show`` accepts), with ``-n`` if any."""
        return self.digest[:12] if self.occurrence == 1 else f"{self.digest[:12]}-{self.occurrence}"

    def next_free(self, taken: set[str]) -> RecordingName:
        """This name, or the first later occurrence whose file name is not in ``taken``."""
        name = self
        while name.filename in taken:
            name = RecordingName(name.digest, name.occurrence + 1)
        return name


def recording_dir(cassette_path: str | os.PathLike[str]) -> Path:
    """The directory holding a test's recordings, for the cassette path vcrpy passes in."""
    path = os.fspath(cassette_path)
    for suffix in CASSETTE_SUFFIXES:
        if path.endswith(suffix):
            return Path(path[: -len(suffix)])
    return Path(path)


def recording_files(directory: Path) -> list[Path]:
    """The recording files of a directory, in replay order (by name, then occurrence)."""
    if not directory.is_dir():
        return []

    def order(path: Path) -> tuple[str, int]:
        name = RecordingName.parse(path.name)
        return (name.digest, name.occurrence) if name else (path.stem, 1)

    return sorted((p for p in directory.glob("*.json") if not p.name.startswith(".")), key=order)


#: The largest recording file read (ini option ``llama_vcr_max_file_size``): reading stops after
#: this many bytes, so a file that never ends cannot exhaust memory.
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
    path: Path, codec: RecordingCodec, *, root: Path | None = None, max_size: int | None = None
) -> dict[str, Any]:
    """A recording file's document (``root``, ``max_size``: see :func:`read_recording`); raises
    :class:`~llama_vcr.RecordingError` naming the file and what is wrong (the field, if one is).

    The document is strict JSON with a ``request`` and a ``response`` object; its fields are
    checked when it is decoded (``codec.decode``).
    """
    return document_of(path, read_recording_text(path, root=root, max_size=max_size), codec)


def document_of(path: Path, text: str, codec: RecordingCodec) -> dict[str, Any]:
    """The document of a recording file's ``text`` (see :func:`read_document`)."""
    if not text.strip():
        raise RecordingError(path, "the file is empty")
    try:
        return codec.deserialize(text)
    except ValueError as exc:  # RecordingFormatError
        raise RecordingError(path, str(exc)) from exc
    except RecursionError as exc:  # (deserialize bounds the nesting: never expected)
        raise RecordingError(path, "arrays and objects nested too deep") from exc


def next_occurrence(digest: str, taken: set[str]) -> int:
    """The first occurrence number whose file name (``<digest>[-n].json``) is not taken."""
    return RecordingName(digest).next_free(taken).occurrence


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


def age_in_days(recorded_at: object) -> int | None:
    """Whole days since a ``recorded_at`` value, or None if it is missing or not a date."""
    if not recorded_at:
        return None
    try:
        recorded = date.fromisoformat(str(recorded_at)[:10])
    except ValueError:
        return None  # a hand-edited date: never expired (verify reports it)
    return (datetime.now(UTC).date() - recorded).days


def write_atomically(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` via a temporary file and rename; False if it was already there."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        _write_new(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def recording_name(document: Mapping[str, Any]) -> str:
    """The file name a recording's content derives (``<sha256>.json``, ``<sha256>-<n>.json``)."""
    return RecordingName.of(document).filename


# -- test directories ------------------------------------------------------------------------------

#: Characters pytest-recording replaces with ``-`` in a cassette name (``get_default_cassette_name``).
FORBIDDEN_IN_NAME = "<>?%*:|\"'/\\"


def _split_node_id(node_id: str) -> tuple[str, list[str], str]:
    """``path/to/mod.py::Outer::Inner::test[p]`` -> ``("Outer::Inner::test[p]", [Outer, Inner,
    test], "[p]")``; ValueError for an id that is not ``path/to/module.py::name``."""
    module, sep, tail = node_id.partition("::")
    if not sep or not module or not tail:
        raise ValueError(f"not a pytest node id (path/to/test_module.py::test_name): {node_id!r}")
    head, bracket, params = tail.partition("[")
    return tail, head.split("::"), bracket + params


def sanitised_name(raw: str) -> str:
    """pytest-recording's rule: characters a file name cannot hold (``<>?%*:|"'/\\``) become ``-``."""
    for char in FORBIDDEN_IN_NAME:
        raw = raw.replace(char, "-")
    return raw


def legacy_directory_name(node_id: str) -> str:
    """pytest-recording's cassette name for a node id (``Class.test[params]``, sanitised): the
    directory name llama-vcr used for every test before :func:`directory_name`."""
    _, parts, params = _split_node_id(node_id)
    raw = parts[-1] + params
    return sanitised_name(f"{parts[-2]}.{raw}" if len(parts) > 1 else raw)


def directory_name(node_id: str) -> str:
    """The name of a test's recordings directory (below its module's directory).

    pytest-recording's cassette name (:func:`legacy_directory_name`), unchanged when it is
    unambiguous; when it is not, ``-`` and 8 hex digits of the SHA-256 of the node id's test part
    (``Class::test[params]``, the part after the module) are appended. It is ambiguous when
    sanitising changed the name (``test[What is 2*3?]`` and ``test[What is 2-3?]`` both give
    ``test[What is 2-3-]``) or the test is in a nested class (the name keeps only the innermost).
    The test part does not depend on the rootdir, so neither does the name.
    """
    tail, parts, params = _split_node_id(node_id)
    legacy = legacy_directory_name(node_id)
    raw = f"{parts[-2]}.{parts[-1]}{params}" if len(parts) > 1 else parts[-1] + params
    if legacy == raw and len(parts) <= 2:
        return legacy
    return f"{legacy}-{hashlib.sha256(tail.encode('utf-8')).hexdigest()[:8]}"


def same_test(recorded: str, test_id: str) -> bool:
    """Whether a recording's ``test_id`` names the test ``test_id``.

    Node ids are relative to the rootdir, so ids whose module paths end alike
    (``tests/test_x.py::t`` and ``test_x.py::t``) count as the same test.
    """
    if recorded == test_id:
        return True
    module, sep, tail = recorded.partition("::")
    other_module, other_sep, other_tail = test_id.partition("::")
    if not (sep and other_sep) or tail != other_tail:
        return False
    parts, other = PurePosixPath(module).parts, PurePosixPath(other_module).parts
    depth = min(len(parts), len(other))
    return depth > 0 and parts[-depth:] == other[-depth:]


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


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (which must not exist) with the umask's permissions, flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
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
    encoded = {name: text.encode("utf-8") for name, text in files.items()}
    written = {name for name, data in encoded.items() if not _holds(current.get(name), data)}
    removed = {name for name in drop if name in current and name not in encoded}
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
            _write_new(staging / name, encoded[name])
    except BaseException:
        StagedRecordings(directory, staging, 0, 0, created).discard()
        raise
    return StagedRecordings(directory, staging, written=len(written), removed=len(removed), created=created)


def _holds(path: Path | None, data: bytes) -> bool:
    """Whether ``path`` is a regular file with exactly these bytes."""
    if path is None:
        return False
    try:
        return stat.S_ISREG(os.lstat(path).st_mode) and path.read_bytes() == data
    except OSError:
        return False
