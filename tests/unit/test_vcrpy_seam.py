"""The vcrpy seam: what llama-vcr relies on beyond vcrpy's public API still exists."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest
import vcr
from vcr.cassette import Cassette

import llama_vcr
from llama_vcr._vcrpy import PRIVATE_ATTRIBUTES, Recordings, configure_vcr
from llama_vcr._vcrpy.persister import RecordingPersister

PACKAGE = Path(llama_vcr.__file__).parent


@pytest.mark.parametrize("owner", sorted(PRIVATE_ATTRIBUTES))
def test_every_private_vcrpy_attribute_the_seam_uses_exists(owner: str) -> None:
    module_name, _, class_name = owner.partition(":")
    module = importlib.import_module(module_name)
    if not class_name:  # a module's own names: vcr.patch's _Httpx2... exist only if httpx2 is installed

        def installed(name: str) -> bool:
            return importlib.util.find_spec("httpx2" if name.startswith("_Httpx2") else "httpx") is not None

        missing = [n for n in PRIVATE_ATTRIBUTES[owner] if installed(n) and not hasattr(module, n)]
        assert not missing, f"{owner} no longer has {missing}: update llama_vcr/_vcrpy"
        return
    cls = getattr(module, class_name)
    instance_attributes: set[str] = set()
    if cls is Cassette:
        cassette = Cassette("x", persister=RecordingPersister(llama_vcr.CODEC))
        instance_attributes = set(vars(cassette))
    elif cls is vcr.VCR:
        instance_attributes = set(vars(vcr.VCR()))
    missing = [
        name
        for name in PRIVATE_ATTRIBUTES[owner]
        if not hasattr(cls, name) and name not in instance_attributes
    ]
    assert not missing, f"{owner} no longer has {missing}: update llama_vcr/_vcrpy"


def test_only_the_seam_imports_vcrpy_internals() -> None:
    """Outside ``_vcrpy/`` only vcrpy's public API is imported (VCR, Request, errors, serializers)."""
    allowed = {"vcr", "vcr.request", "vcr.errors", "vcr.serialize", "vcr.serializers"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "_vcrpy" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
                if top == "pytest_recording" or (top == "vcr" and node.module not in allowed):
                    offenders.append(f"{path.relative_to(PACKAGE)}: from {node.module}")
    assert not offenders, offenders


def test_configure_vcr_returns_the_test_recordings_protocol() -> None:
    recordings = configure_vcr(vcr.VCR(), llama_vcr.CODEC, "t.py::t")
    members = [name for name, _ in inspect.getmembers(Recordings) if not name.startswith("_")]
    assert {"replaying", "unused", "expired"} <= set(members)
    for name in ("replaying", "unused", "expired", "misses", "save_allowed"):
        assert hasattr(recordings, name), name
    assert recordings.misses == [] and recordings.replaying is False and recordings.unused() == []


def test_a_miss_is_raised_by_the_cassette_without_patching_vcrpy(tmp_path: Path) -> None:
    """vcrpy's stub modules keep their own exception: llama-vcr patches nothing process-wide."""
    import httpx
    import vcr.stubs.httpx_stubs
    from vcr.errors import CannotOverwriteExistingCassetteException

    recorder = vcr.VCR(record_mode="none")
    configure_vcr(recorder, llama_vcr.CODEC, "t.py::t")
    (tmp_path / "t").mkdir()
    with recorder.use_cassette(str(tmp_path / "t")), pytest.raises(llama_vcr.RecordingNotFound) as info:
        httpx.post("http://127.0.0.1:9/v1/chat/completions", json={"model": "m"})
    assert isinstance(info.value, CannotOverwriteExistingCassetteException)
    assert "t.py::t" in str(info.value) and "/v1/chat/completions" in str(info.value)
    assert (
        vcr.stubs.httpx_stubs.CannotOverwriteExistingCassetteException
        is CannotOverwriteExistingCassetteException
    )
