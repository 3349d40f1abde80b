"""Recording file names and test directory names: :class:`RecordingName`, the layout, and the
rule that gives every test its own directory.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

try:
    import fcntl
except ImportError:  # Windows: saves are not serialised between processes
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    pass


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
        from .._canonical import endpoint_of, request_hash

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


def next_occurrence(digest: str, taken: set[str]) -> int:
    """The first occurrence number whose file name (``<digest>[-n].json``) is not taken."""
    return RecordingName(digest).next_free(taken).occurrence


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
