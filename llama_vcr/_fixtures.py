"""Fixtures that give pytest-recording llama-vcr defaults (a user's own fixtures still win)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from ._store import belongs_to, directory_name, legacy_directory_name, sanitised_name
from ._vcrpy import DEFAULT_MATCH_ON, SERIALIZER_NAME


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """llama-vcr's ``vcr_config``; override it and extend it with ``{**vcr_config, ...}``."""
    return {"serializer": SERIALIZER_NAME, "match_on": DEFAULT_MATCH_ON}


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """``<rootdir>/cassettes/<test module path without .py>``; each test gets a directory below it."""
    return str(module_cassette_dir(request.config, Path(request.node.path)))


def module_cassette_dir(config: pytest.Config, module: Path) -> Path:
    """llama-vcr's ``vcr_cassette_dir`` for a test module."""
    rootdir = config.rootpath
    try:
        relative = module.relative_to(rootdir).with_suffix("")
    except ValueError:  # a test module outside the rootdir
        relative = Path(module.stem)
    return rootdir / str(config.getini("llama_vcr_cassette_dir")) / relative


#: Longest file name pytest-recording lets a cassette name make (it shortens longer ones).
_MAX_NAME = 255
#: Suffixes a cassette name takes on disk: none for a llama-vcr directory, a file for vcrpy's.
_ON_DISK = ("", ".yaml", ".yml", ".json")


def _as_pytest_recording_stores(name: str) -> str:
    """``name`` shortened as pytest-recording shortens a cassette name too long for a file name."""
    suffix = SERIALIZER_NAME  # pytest-recording shortens by len(serializer), without the dot
    if len(name) + len(suffix) <= _MAX_NAME:
        return name
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()  # pytest-recording's rule
    return f"{name[: _MAX_NAME - len(suffix) - len(digest) - 3]}...{digest}"


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest, vcr_cassette_dir: str) -> str:
    """The test's recordings directory name: pytest-recording's cassette name, made distinct where
    its rules would give two tests one directory (``llama_vcr._store.directory_name``).

    A test whose recordings are already under pytest-recording's name (and are all its own) keeps
    reading and writing them there. A ``@pytest.mark.default_cassette("name")`` marker still wins.
    """
    marker = request.node.get_closest_marker("default_cassette")
    if marker is not None:
        assert marker.args, "pass the cassette name to the `pytest.mark.default_cassette` marker"
        return str(marker.args[0])
    raw = f"{request.cls.__name__}.{request.node.name}" if request.cls else request.node.name
    legacy = sanitised_name(raw)
    node_id = request.node.nodeid
    try:
        name = directory_name(node_id) if legacy_directory_name(node_id) == legacy else legacy
    except ValueError:  # not a module::test node id: pytest-recording's name, as before
        return legacy
    if name == legacy:
        return legacy
    base = Path(vcr_cassette_dir)
    new_on_disk = _as_pytest_recording_stores(name)
    if any((base / f"{new_on_disk}{suffix}").exists() for suffix in _ON_DISK):
        return name
    old = base / _as_pytest_recording_stores(legacy)
    if old.is_dir():
        return legacy if belongs_to(old, node_id) else name
    return legacy if any((base / f"{old.name}{suffix}").is_file() for suffix in _ON_DISK[1:]) else name
