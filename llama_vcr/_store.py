"""The store: where recordings live on disk and how their files are named, read and written.

Pure file-system code, shared by the pytest plugin (through the vcrpy persister) and the CLI;
it imports neither vcrpy nor pytest.

Layout::

    <cassette dir>/<test module path without .py>/<test name>/<sha256>[-<n>].json

A file name is a :class:`RecordingName`: the request hash (llama-stack's recipe, see
:func:`llama_vcr._canonical.request_hash`) and, for the n-th repeat of the same request in one
test, ``-<n>`` (``occurrence`` in the file). Files are written atomically (temporary file, then
rename) and only when their bytes change.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import RecordingError

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


def read_document(path: Path, codec: RecordingCodec) -> dict[str, Any]:
    """A recording file's document; raises :class:`~llama_vcr.RecordingError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RecordingError(path, f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise RecordingError(path, exc.strerror or str(exc)) from exc
    if not text.strip():
        raise RecordingError(path, "the file is empty")
    try:
        return codec.deserialize(text)
    except ValueError as exc:  # json.JSONDecodeError and RecordingFormatError
        raise RecordingError(path, str(exc)) from exc


def next_occurrence(digest: str, taken: set[str]) -> int:
    """The first occurrence number whose file name (``<digest>[-n].json``) is not taken."""
    return RecordingName(digest).next_free(taken).occurrence


def place(document: dict[str, Any], codec: RecordingCodec, taken: set[str]) -> tuple[str, str, list[str]]:
    """Where and how a new recording is written: ``(file name, text, secret variables scrubbed)``.

    Secret environment values are scrubbed first and the name derives from what is written; a name
    already ``taken`` gets the next occurrence number. The name is added to ``taken``.
    """
    text, leaked = codec.redactor.scrub(codec.serialize(document))
    if leaked:
        document = codec.deserialize(text)
    name = RecordingName.of(document).next_free(taken)
    if name.occurrence != document.get("occurrence", 1):
        document["occurrence"] = name.occurrence
        text = codec.serialize(document)
    taken.add(name.filename)
    return name.filename, text, leaked


def today() -> str:
    """``recorded_at``: the UTC date (day precision, so re-recording the same day changes nothing)."""
    return datetime.now(timezone.utc).date().isoformat()


def age_in_days(recorded_at: object) -> int | None:
    """Whole days since a ``recorded_at`` value, or None if it is missing or not a date."""
    if not recorded_at:
        return None
    try:
        recorded = date.fromisoformat(str(recorded_at)[:10])
    except ValueError:
        return None  # a hand-edited date: never expired (verify reports it)
    return (datetime.now(timezone.utc).date() - recorded).days


def write_atomically(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` via a temporary file and rename; False if it was already there."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def recording_name(document: Mapping[str, Any]) -> str:
    """The file name a recording's content derives (``<sha256>.json``, ``<sha256>-<n>.json``)."""
    return RecordingName.of(document).filename
