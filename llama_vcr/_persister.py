"""The fossilizer: a vcrpy persister that keeps one JSON file per request in a per-test directory.

vcrpy hands a persister a whole cassette; this one spreads it over files named by
:func:`~llama_vcr._format.recording_name`, writes only what changed (atomically), never copies
interactions loaded from extra cassettes, and removes files that a re-record replaced.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from pytest_recording._vcr import CombinedPersister
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.record_mode import RecordMode
from vcr.serialize import deserialize

from ._canonical import CanonicalRequest
from ._errors import RecordingError, SecretRedactedWarning
from ._format import RecordingCodec, recording_name
from ._normalize import IdMap
from ._report import miss_message
from ._types import check_type, envelope_types
from ._wire import RecordingFormatError

#: Key under which a loaded response remembers the file it came from.
SOURCE_KEY = "_llama_vcr_source"
#: Key under which a response recorded now carries its encoded document.
DOCUMENT_KEY = "_llama_vcr_document"
#: Suffixes pytest-recording's path transformer appends to a cassette name.
CASSETTE_SUFFIXES = (".llama_vcr", ".yaml")


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
        digest, _, occurrence = path.stem.partition("-")
        return digest, int(occurrence) if occurrence.isdigit() else 1

    return sorted((p for p in directory.glob("*.json") if not p.name.startswith(".")), key=order)


def read_document(path: Path, codec: RecordingCodec) -> dict[str, Any]:
    """A recording file's document; raises :class:`RecordingError` naming the file."""
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
    occurrence = 1
    while (f"{digest}.json" if occurrence == 1 else f"{digest}-{occurrence}.json") in taken:
        occurrence += 1
    return occurrence


def place(document: dict[str, Any], codec: RecordingCodec, taken: set[str]) -> tuple[str, str, list[str]]:
    """Where and how a new recording is written: ``(file name, text, secret variables scrubbed)``.

    Secret environment values are scrubbed first and the name derives from what is written; a name
    already ``taken`` gets the next occurrence number. The name is added to ``taken``.
    """
    text, leaked = codec.redactor.scrub(codec.serialize(document))
    if leaked:
        document = codec.deserialize(text)
    occurrence = document.get("occurrence", 1)
    while (name := recording_name({**document, "occurrence": occurrence})) in taken:
        occurrence += 1
    if occurrence != document.get("occurrence", 1):
        document["occurrence"] = occurrence
        text = codec.serialize(document)
    taken.add(name)
    return name, text, leaked


def today() -> str:
    """``recorded_at``: the UTC date (day precision, so re-recording the same day changes nothing)."""
    return datetime.now(timezone.utc).date().isoformat()


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


@dataclass
class RecordingPersister:
    """Loads and saves one test's recordings; made anew for every test by the plugin."""

    codec: RecordingCodec
    test_id: str | None = None
    extra_paths: Sequence[str] = ()
    rewrite: bool = False
    ids: IdMap = field(default_factory=IdMap, init=False)
    _previous: set[Path] = field(default_factory=set, init=False)
    _directory: Path | None = field(default=None, init=False)
    _taken: set[str] = field(default_factory=set, init=False)
    _recording: bool = field(default=False, init=False)
    _rerecording: bool = field(default=False, init=False)
    #: Called before saving; False keeps the previous recordings (the plugin: "the test passed").
    save_allowed: Callable[[], bool] = field(default=lambda: True, repr=False)
    #: ``recorded_at`` of each file loaded from the test's own directory.
    recorded_dates: dict[Path, str | None] = field(default_factory=dict, init=False)

    def canonical(self, request: Any) -> CanonicalRequest:
        """``request`` in canonical form, through this test's id map."""
        return self.codec.canonicalizer(request, self.ids)

    # -- loading ---------------------------------------------------------------------------------

    def _load_file(self, path: Path) -> tuple[Any, dict[str, Any]]:
        document = read_document(path, self.codec)
        for type_name in dict.fromkeys(envelope_types(document["response"].get("body"))):
            problem = check_type(type_name)
            if problem:
                raise RecordingError(path, problem)
        try:
            request, response = self.codec.decode(document)
        except RecordingFormatError as exc:
            raise RecordingError(path, str(exc)) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingError(path, f"invalid recording ({type(exc).__name__}: {exc})") from exc
        response[SOURCE_KEY] = str(path)
        if path.parent == self._directory:
            self.recorded_dates[path] = document.get("recorded_at")
        return request, response

    def _load_extra(self, path: Path) -> Iterable[tuple[Any, dict[str, Any]]]:
        if path.is_dir():
            return [self._load_file(file) for file in recording_files(path)]
        if path.suffix in (".yaml", ".yml") and path.is_file():  # a plain vcrpy cassette
            from vcr.serializers import yamlserializer

            requests, responses, *_ = deserialize(path.read_text(encoding="utf-8"), yamlserializer)
            return [
                (req, {**resp, SOURCE_KEY: str(path)}) for req, resp in zip(requests, responses, strict=True)
            ]
        if path.is_file():
            return [self._load_file(path)]
        raise RecordingError(path, "extra cassette named in @pytest.mark.vcr(...) does not exist")

    def load_cassette(self, cassette_path: str, serializer: Any) -> tuple[list[Any], list[Any]]:
        if not isinstance(serializer, RecordingCodec):
            return CombinedPersister(list(self.extra_paths)).load_cassette(cassette_path, serializer)
        directory = recording_dir(cassette_path)
        self._directory = directory
        files = recording_files(directory)
        self._previous = set(files)
        self._taken = set() if self.rewrite else {path.name for path in files}
        interactions = [] if self.rewrite else [self._load_file(path) for path in files]
        for extra in self.extra_paths:
            interactions.extend(self._load_extra(Path(os.path.normpath(extra))))
        if not interactions:
            raise CassetteNotFoundError(str(directory))
        return [request for request, _ in interactions], [response for _, response in interactions]

    # -- recording -------------------------------------------------------------------------------

    def recorded(self, cassette: Any, request: Any, response: dict[str, Any]) -> None:
        """Encode an interaction the moment it is recorded, so its ids are mapped from now on."""
        if SOURCE_KEY in response or not isinstance(cassette._serializer, RecordingCodec):
            return
        if not self._recording:
            self._recording = True
            self._rerecording = cassette.record_mode == RecordMode.ALL
            if self._rerecording:
                self._taken = set()  # "all" re-records every request: loaded files get replaced
        occurrence = next_occurrence(self.canonical(request).hash(self.test_id), self._taken)
        document = self.codec.encode(
            request, response, self.test_id, ids=self.ids, occurrence=occurrence, recorded_at=today()
        )
        self._taken.add(recording_name(document))
        response[DOCUMENT_KEY] = document

    # -- saving ----------------------------------------------------------------------------------

    def save_cassette(self, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        if not isinstance(serializer, RecordingCodec):
            CombinedPersister(list(self.extra_paths)).save_cassette(cassette_path, cassette_dict, serializer)
            return
        if not self.save_allowed():
            return  # the test failed while recording: its previous recordings stay as they were
        directory = recording_dir(cassette_path)
        kept: set[Path] = set()
        new: list[dict[str, Any]] = []
        for request, response in zip(cassette_dict["requests"], cassette_dict["responses"], strict=True):
            source = response.get(SOURCE_KEY)
            if source is None:
                document = response.get(DOCUMENT_KEY)
                new.append(document or serializer.encode(request, response, self.test_id, ids=self.ids))
            elif Path(source).parent == directory and not self._rerecording:
                kept.add(Path(source))  # ("all" drops recordings the test did not request again)
        taken = {path.name for path in kept}
        for document in new:
            name, text, leaked = place(document, serializer, taken)
            if leaked:
                warnings.warn(SecretRedactedWarning(directory / name, leaked), stacklevel=2)
            write_atomically(directory / name, text)
        for stale in self._previous - kept:
            if stale.name not in taken:
                stale.unlink(missing_ok=True)

    # -- diagnostics -----------------------------------------------------------------------------

    def unused(self, cassette: Any) -> list[Path]:
        """Files of the test's own directory that were loaded but never replayed."""
        loaded = cassette.data[: cassette._loaded_count]
        return [
            Path(response[SOURCE_KEY])
            for index, (_, response) in enumerate(loaded)
            if SOURCE_KEY in response  # (a plain vcrpy cassette has none)
            and not cassette.play_counts[index]
            and Path(response[SOURCE_KEY]).parent == self._directory
        ]

    def expired(self, max_age_days: float) -> list[tuple[Path, int]]:
        """``(file, age in days)`` of loaded recordings older than ``max_age_days``."""
        now = datetime.now(timezone.utc).date()
        out = []
        for path, recorded_at in sorted(self.recorded_dates.items()):
            try:
                age = (now - date.fromisoformat(str(recorded_at)[:10])).days if recorded_at else None
            except ValueError:
                age = None  # a hand-edited date: not expired (verify reports it)
            if age is not None and age > max_age_days:
                out.append((path, age))
        return out

    def describe_miss(self, request: CanonicalRequest, cassette: Any) -> str:
        """The message of a replay miss (see :func:`llama_vcr._report.miss_message`)."""
        recorded = [(self.canonical(req), resp.get(SOURCE_KEY)) for req, resp in cassette.data]
        directory = self._directory or Path(".")
        return miss_message(
            request,
            recorded,
            test_id=self.test_id,
            directory=directory,
            has_files=bool(recording_files(directory)),
            extra_paths=self.extra_paths,
            mode=str(getattr(cassette.record_mode, "value", cassette.record_mode)),
        )
