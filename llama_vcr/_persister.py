"""The fossilizer: a vcrpy persister that keeps one JSON file per request in a per-test directory.

vcrpy hands a persister a whole cassette; this one spreads it over files named by
:func:`~llama_vcr._format.recording_name`, writes only what changed (atomically), never copies
interactions loaded from extra cassettes, and removes files that a re-record replaced.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_recording._vcr import CombinedPersister
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.record_mode import RecordMode
from vcr.serialize import deserialize

from ._canonical import CanonicalRequest
from ._errors import RecordingError, record_command
from ._format import RecordingCodec, RecordingFormatError, recording_name
from ._normalize import IdMap

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

    def canonical(self, request: Any) -> CanonicalRequest:
        """``request`` in canonical form, through this test's id map."""
        return self.codec.canonicalizer(request, self.ids)

    # -- loading ---------------------------------------------------------------------------------

    def _load_file(self, path: Path) -> tuple[Any, dict[str, Any]]:
        document = read_document(path, self.codec)
        try:
            request, response = self.codec.decode(document)
        except (KeyError, TypeError, ValueError, RecordingFormatError) as exc:
            raise RecordingError(path, f"invalid recording ({type(exc).__name__}: {exc})") from exc
        response[SOURCE_KEY] = str(path)
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
            if cassette.record_mode == RecordMode.ALL:
                self._taken = set()  # "all" re-records every request: loaded files get replaced
        digest = self.canonical(request).hash(self.test_id)
        occurrence = 1
        while (f"{digest}.json" if occurrence == 1 else f"{digest}-{occurrence}.json") in self._taken:
            occurrence += 1
        document = self.codec.encode(request, response, self.test_id, ids=self.ids, occurrence=occurrence)
        self._taken.add(recording_name(document))
        response[DOCUMENT_KEY] = document

    # -- saving ----------------------------------------------------------------------------------

    def save_cassette(self, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        if not isinstance(serializer, RecordingCodec):
            CombinedPersister(list(self.extra_paths)).save_cassette(cassette_path, cassette_dict, serializer)
            return
        directory = recording_dir(cassette_path)
        kept: set[Path] = set()
        new: list[dict[str, Any]] = []
        for request, response in zip(cassette_dict["requests"], cassette_dict["responses"], strict=True):
            source = response.get(SOURCE_KEY)
            if source is None:
                document = response.get(DOCUMENT_KEY)
                new.append(document or serializer.encode(request, response, self.test_id, ids=self.ids))
            elif Path(source).parent == directory:
                kept.add(Path(source))
        taken = {path.name for path in kept}
        for document in new:
            occurrence = document.get("occurrence", 1)
            while (name := recording_name({**document, "occurrence": occurrence})) in taken:
                occurrence += 1
            if occurrence > 1:
                document["occurrence"] = occurrence
            taken.add(name)
            write_atomically(directory / name, serializer.serialize(document))
        for stale in self._previous - kept:
            if stale.name not in taken:
                stale.unlink(missing_ok=True)

    # -- diagnostics -----------------------------------------------------------------------------

    def describe_miss(self, request: CanonicalRequest, cassette: Any) -> str:
        """The message of a replay miss: which test, which request, where we looked, what to run."""
        directory = self._directory
        recorded = [self.canonical(r) for r in cassette.requests]
        same = sum(
            1
            for r in recorded
            if (r.endpoint, r.query, r.body_key) == (request.endpoint, request.query, request.body_key)
        )
        mode = getattr(cassette.record_mode, "value", cassette.record_mode)
        has_files = bool(directory and recording_files(directory))
        if same:
            why = (
                f"all {same} recording(s) of this exact request were already replayed; "
                "the test now sends it more times than when it was recorded"
            )
        elif has_files:
            on_endpoint = sum(1 for r in recorded if r.endpoint == request.endpoint)
            why = f"none of the {len(recorded)} recording(s) match ({on_endpoint} on the same endpoint)"
        else:
            why = "this test has no recordings yet"
        fix_mode = "new_episodes" if has_files else "once"
        query = "?" + "&".join(f"{k}={v}" for k, v in request.query) if request.query else ""
        lines = [
            f"llama-vcr: no recording matches this request (record mode {mode!r}): {why}.",
            f"  test:     {self.test_id}",
            f"  request:  {request.method} {request.endpoint}{query}  model={request.model}",
            f"  searched: {directory}{os.sep}",
        ]
        lines += [f"  extra:    {extra}" for extra in self.extra_paths]
        lines += [
            "  to record it (needs the real API and key), run:",
            f"    {record_command(self.test_id, fix_mode)}",
            "  or re-record the whole test with --record-mode=rewrite.",
        ]
        return "\n".join(lines)
