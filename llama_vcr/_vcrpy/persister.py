"""The fossilizer: a vcrpy persister that keeps one JSON file per request in a per-test directory.

vcrpy hands a persister a whole cassette; this one spreads it over files named by
:class:`~llama_vcr._store.RecordingName` and replaces the test's set of files all at once
(:func:`~llama_vcr._store.replace_recordings`): nothing changes if no file would, files loaded from
extra cassettes are never copied, files a re-record replaced are removed, and files of other
tests found in the directory are neither replayed nor removed.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_recording._vcr import CombinedPersister
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.record_mode import RecordMode
from vcr.serialize import deserialize

from .._canonical import CanonicalRequest
from .._errors import ForeignRecordingsWarning, NotReplayableWarning, RecordingError, SecretRedactedWarning
from .._normalize import IdMap
from .._report import miss_message
from .._store import (
    DEFAULT_MAX_FILE_SIZE,
    RecordingName,
    age_in_days,
    next_occurrence,
    place,
    read_document,
    reading,
    recorded_test_id,
    recording_dir,
    recording_files,
    replace_recordings,
    same_test,
    today,
)
from ..format import layout
from ..format.codec import RecordingCodec, at_position, position_of
from ..format.envelopes import check_type, envelope_types
from ..format.llama_stack import MODELS_FILE, merge_model_lists, model_list_group, not_replayable
from ..format.stream_lines import StreamLines
from ..format.wire import RecordingFormatError

#: Key under which a loaded response remembers the file it came from.
SOURCE_KEY = "_llama_vcr_source"
#: Key under which a response recorded now carries its encoded document.
DOCUMENT_KEY = "_llama_vcr_document"
#: A loaded interaction: (vcrpy request, response).
_Loaded = tuple[Any, dict[str, Any]]


@dataclass
class RecordingPersister:
    """Loads and saves one test's recordings; made anew for every test by the plugin."""

    codec: RecordingCodec
    test_id: str | None = None
    extra_paths: Sequence[str] = ()
    rewrite: bool = False
    #: The cassette root (``llama_vcr_cassette_dir``): symbolic links in recordings must stay inside it.
    cassette_root: Path | None = None
    #: The largest recording file read (``llama_vcr_max_file_size``).
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    #: While the test only replays, its HTTP clients share SSL contexts (``llama_vcr_share_ssl_contexts``;
    #: see :mod:`llama_vcr._vcrpy.ssl_contexts`).
    share_ssl_contexts: bool = False
    ids: IdMap = field(default_factory=IdMap, init=False)
    _previous: set[Path] = field(default_factory=set, init=False)
    _directory: Path | None = field(default=None, init=False)
    _taken: set[str] = field(default_factory=set, init=False)
    _recording: bool = field(default=False, init=False)
    _rerecording: bool = field(default=False, init=False)
    #: Called before saving; False keeps the previous recordings (the plugin: "the test passed").
    save_allowed: Callable[[], bool] = field(default=lambda: True, repr=False)
    #: True: a save only keeps the new set of files; :meth:`commit` writes it and puts it in place
    #: (the plugin commits once the test's teardown passed), :meth:`discard` drops it. False: a
    #: save commits.
    commit_later: bool = field(default=False, init=False)
    #: Files of the test's own directory recorded by other tests (path, their ``test_id``).
    foreign: list[tuple[Path, str]] = field(default_factory=list, init=False)
    #: A saved set not yet committed: (directory, new files by name, names of files to drop).
    _pending: tuple[Path, dict[str, str], set[str]] | None = field(default=None, init=False, repr=False)
    #: ``recorded_at`` of each file loaded from the test's own directory.
    recorded_dates: dict[Path, str | None] = field(default_factory=dict, init=False)
    #: Messages of the replay misses raised in this test (shown in its report even if swallowed).
    misses: list[str] = field(default_factory=list, init=False)
    #: What tolerant matching let through, one message per replay it decided (``_report.tolerated_message``).
    tolerated: list[str] = field(default_factory=list, init=False)
    #: Files written (new or changed) and removed (stale after a re-record) by the last save.
    written: int = field(default=0, init=False)
    removed: int = field(default=0, init=False)
    _cassette: Any = field(default=None, init=False, repr=False)
    #: Whether the test's directory held recordings when loaded (a miss then does no file I/O).
    _had_files: bool = field(default=False, init=False)
    #: ``position`` of each loaded file that has one (by path as in ``SOURCE_KEY``).
    _positions: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    #: The highest ``position`` among the test's own loaded files: new recordings come after it.
    _last_position: int = field(default=0, init=False)

    def attach(self, cassette: Any) -> None:
        """Called by :class:`~llama_vcr._vcrpy.cassette.RecordingCassette` when it is created."""
        self._cassette = cassette

    @property
    def replaying(self) -> bool:
        """True when the test's cassette is write-protected (``none``, or ``once`` with files)."""
        return self._cassette is not None and bool(self._cassette.write_protected)

    def canonical(self, request: Any) -> CanonicalRequest:
        """``request`` in canonical form, through this test's id map."""
        return self.codec.canonicalizer(request, self.ids)

    # -- loading ---------------------------------------------------------------------------------

    def _foreign(self, recorded: object) -> bool:
        """Whether a ``test_id`` read from a file of this test's directory names another test."""
        if self.test_id is None or not isinstance(recorded, str) or not recorded:
            return False  # (llama-stack's own files may have none)
        return not same_test(recorded, self.test_id)

    def _load_own(self, path: Path) -> tuple[Any, dict[str, Any]] | None:
        """A file of the test's own directory, or None (noted in ``foreign``) if another test's."""
        document = self._read(path)
        if self._foreign(document.get("test_id")):
            self.foreign.append((path, str(document["test_id"])))
            return None
        return self._decode(path, document)

    def _load_file(self, path: Path) -> tuple[Any, dict[str, Any]] | None:
        return self._decode(path, self._read(path))

    def _read(self, path: Path) -> dict[str, Any]:
        """A recording's document, read as untrusted input: a regular file inside the cassette root
        (:meth:`_root_for`), no larger than ``max_file_size``, strict JSON."""
        root, limit = self._root_for(path), self.max_file_size
        lines = MODELS_FILE.match(path.name) is None  # (model lists are merged as parsed lists)
        return read_document(path, self.codec, root=root, max_size=limit, stream_lines=lines)

    def _root_for(self, path: Path) -> Path:
        """Where a recording's symbolic links may lead: the cassette root if the file is below it,
        else the test module's cassette directory if it is below that, else its own directory."""
        where = os.path.abspath(path)
        for root in (self.cassette_root, self._directory.parent if self._directory else None):
            if root is not None and where.startswith(os.path.join(os.path.abspath(root), "")):
                return root
        return path.parent

    def _decode(self, path: Path, document: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
        """The interaction a document replays as; None (with a warning) for a llama-stack record
        that is no HTTP exchange. A llama-stack model list replays as the union of its group."""
        reason = not_replayable(document)
        if reason is not None:
            warnings.warn(NotReplayableWarning(path, reason), stacklevel=3)
            return None
        group = model_list_group(path)
        if group:  # (llama-stack serves even one file's list sorted)
            document = merge_model_lists([document if p == path else self._read(p) for p in group])
        body = document["response"].get("body")
        names = body.types if isinstance(body, StreamLines) else dict.fromkeys(envelope_types(body))
        for type_name in names:
            problem = check_type(type_name)
            if problem:
                raise RecordingError(path, problem)
        try:
            request, response = self.codec.decode(document)
        except RecordingFormatError as exc:
            raise RecordingError(path, str(exc)) from exc
        except Exception as exc:  # decode checks what replay uses: never expected, never raw
            raise RecordingError(path, f"invalid recording ({type(exc).__name__}: {exc})") from exc
        response[SOURCE_KEY] = str(path)
        position = position_of(document)
        if position is not None:
            self._positions[str(path)] = position
        if path.parent == self._directory:
            self.recorded_dates[path] = document.get("recorded_at")
        return request, response

    def _in_recorded_order(self, loaded: list[_Loaded]) -> list[_Loaded]:
        """``loaded`` (in file-name order) sorted by ``position``; files without one first, in the
        order given (a stable sort): they were written before llama-vcr kept the order (or by
        llama-stack), so before any file ``new_episodes`` adds to them now."""

        def order(pair: _Loaded) -> tuple[int, int]:
            position = self._positions.get(str(pair[1].get(SOURCE_KEY)))
            return (1, position) if position is not None else (0, 0)

        return sorted(loaded, key=order)

    def _load_extra(self, path: Path) -> Iterable[tuple[Any, dict[str, Any]]]:
        if path.is_dir():
            found = [loaded for file in recording_files(path) if (loaded := self._load_file(file))]
            return self._in_recorded_order(found)
        if path.suffix in (".yaml", ".yml") and path.is_file():  # a plain vcrpy cassette
            from vcr.serializers import yamlserializer

            requests, responses, *_ = deserialize(path.read_text(encoding="utf-8"), yamlserializer)
            return [
                (req, {**resp, SOURCE_KEY: str(path)}) for req, resp in zip(requests, responses, strict=True)
            ]
        if path.is_file():
            return [loaded] if (loaded := self._load_file(path)) else []
        raise RecordingError(path, "extra cassette named in @pytest.mark.vcr(...) does not exist")

    def load_cassette(self, cassette_path: str, serializer: Any) -> tuple[list[Any], list[Any]]:
        if not isinstance(serializer, RecordingCodec):
            return CombinedPersister(list(self.extra_paths)).load_cassette(cassette_path, serializer)
        directory = recording_dir(cassette_path)
        self._directory = directory
        interactions: list[tuple[Any, dict[str, Any]]] = []
        with reading(directory):  # (a save a crash cut short is finished or undone first)
            files = recording_files(directory)
            self._had_files = bool(files)
            for path in files:
                if self.rewrite:  # nothing is replayed, but another test's files must be left alone
                    recorded = recorded_test_id(path) if self.test_id is not None else None
                    if self._foreign(recorded):
                        self.foreign.append((path, str(recorded)))
                else:
                    loaded = self._load_own(path)
                    if loaded is not None:
                        interactions.append(loaded)
        interactions = self._in_recorded_order(interactions)  # the order the test sent them in
        self._last_position = max(self._positions.values(), default=0)
        foreign = {path for path, _ in self.foreign}
        self._previous = set(files) - foreign
        self._taken = self._reserved() if self.rewrite else {path.name for path in files}
        if self.foreign and self.test_id is not None:
            warning = ForeignRecordingsWarning(directory, self.test_id, list(self.foreign))
            warnings.warn(warning, stacklevel=2)
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
                self._taken = self._reserved()  # "all" re-records every request: files get replaced
        occurrence = next_occurrence(self.canonical(request).hash(self.test_id), self._taken)
        document = self.codec.encode(
            request, response, self.test_id, ids=self.ids, occurrence=occurrence, recorded_at=today()
        )
        self._taken.add(RecordingName.of(document).filename)
        layout.render(document)  # (a stream kept as its lines until saved, not as parsed chunks)
        response[DOCUMENT_KEY] = document

    # -- saving ----------------------------------------------------------------------------------

    def save_cassette(self, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        if not isinstance(serializer, RecordingCodec):
            CombinedPersister(list(self.extra_paths)).save_cassette(cassette_path, cassette_dict, serializer)
            return
        if not self.save_allowed():
            return  # the test did not pass while recording: its previous recordings stay as they were
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
        taken = {path.name for path in kept} | self._reserved()
        files: dict[str, str] = {}
        # numbered in recorded order, after the recordings kept ("all" and "rewrite" keep none, so
        # a re-record numbers from 1: the same files)
        base = 0 if self._rerecording else self._last_position
        for offset, document in enumerate(new, start=1):
            name, text, leaked = place(at_position(document, base + offset), serializer, taken)
            if leaked:
                warnings.warn(SecretRedactedWarning(directory / name, leaked), stacklevel=2)
            files[name] = text
        self._pending = (directory, files, {path.name for path in self._previous - kept})
        if not self.commit_later:
            self.commit()

    def commit(self) -> None:
        """Replace the test's files by the saved set, all at once (a no-op if nothing is pending)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            written, removed = replace_recordings(*pending)
            self.written += written
            self.removed += removed

    def discard(self) -> None:
        """Drop the saved set: the directory keeps its previous files (a no-op if nothing is pending)."""
        self._pending = None

    def _reserved(self) -> set[str]:
        """Names a new recording of this test must not take: other tests' files in its directory."""
        return {path.name for path, _ in self.foreign}

    # -- diagnostics -----------------------------------------------------------------------------

    def replayed(self) -> int:
        """How many loaded recordings the test replayed (each counted once)."""
        cassette = self._cassette
        if cassette is None:
            return 0
        return sum(1 for index in range(cassette._loaded_count) if cassette.play_counts[index])

    def unused(self) -> list[Path]:
        """Files of the test's own directory that were loaded but never replayed."""
        cassette = self._cassette
        if cassette is None:
            return []
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
        ages = ((path, age_in_days(recorded_at)) for path, recorded_at in sorted(self.recorded_dates.items()))
        return [(path, age) for path, age in ages if age is not None and age > max_age_days]

    def describe_miss(self, request: CanonicalRequest, cassette: Any) -> str:
        """The message of a replay miss (see :func:`llama_vcr._report.miss_message`). It does no file
        I/O: a miss inside an async event loop must not block it."""
        recorded = [(self.canonical(req), resp.get(SOURCE_KEY)) for req, resp in cassette.data]
        directory = self._directory or Path(".")
        return miss_message(
            request,
            recorded,
            test_id=self.test_id,
            directory=directory,
            has_files=self._had_files,
            extra_paths=self.extra_paths,
            mode=str(getattr(cassette.record_mode, "value", cassette.record_mode)),
            redactor=self.codec.redactor,
        )
