"""The fossilizer: a vcrpy persister that keeps one JSON file per request in a per-test directory.

vcrpy hands a persister a whole cassette; this one spreads it over files named by
:class:`~llama_vcr._store.RecordingName`, writes only what changed (atomically), never copies
interactions loaded from extra cassettes, and removes files that a re-record replaced.
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
from .._errors import RecordingError, SecretRedactedWarning
from .._normalize import IdMap
from .._report import miss_message
from .._store import (
    RecordingName,
    age_in_days,
    next_occurrence,
    place,
    read_document,
    recording_dir,
    recording_files,
    today,
    write_atomically,
)
from ..format.codec import RecordingCodec
from ..format.envelopes import check_type, envelope_types
from ..format.wire import RecordingFormatError

#: Key under which a loaded response remembers the file it came from.
SOURCE_KEY = "_llama_vcr_source"
#: Key under which a response recorded now carries its encoded document.
DOCUMENT_KEY = "_llama_vcr_document"


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
    #: Messages of the replay misses raised in this test (shown in its report even if swallowed).
    misses: list[str] = field(default_factory=list, init=False)
    #: Files written (new or changed) and removed (stale after a re-record) by the last save.
    written: int = field(default=0, init=False)
    removed: int = field(default=0, init=False)
    _cassette: Any = field(default=None, init=False, repr=False)

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
        self._taken.add(RecordingName.of(document).filename)
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
            if write_atomically(directory / name, text):
                self.written += 1
        for stale in self._previous - kept:
            if stale.name not in taken and stale.exists():
                stale.unlink(missing_ok=True)
                self.removed += 1

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
