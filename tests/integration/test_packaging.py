"""The package as users get it: every module imports, the version is one, CI tests the wheel."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import llama_vcr

PACKAGE_DIR = Path(llama_vcr.__file__).parent


def test_every_module_of_the_installed_package_imports() -> None:
    names = [info.name for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="llama_vcr.")]
    assert "llama_vcr.providers.openai" in names  # the subpackage a broken wheel once lacked
    for name in names:
        if name != "llama_vcr.__main__":
            importlib.import_module(name)


def test_the_package_ships_its_data_files() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()
    assert (PACKAGE_DIR / "format" / "recording.schema.json").is_file()


def test_one_version_everywhere() -> None:
    assert metadata.version("llama-vcr") == llama_vcr.__version__
    out = subprocess.run(
        [sys.executable, "-m", "llama_vcr", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"llama-vcr {llama_vcr.__version__}"


def test_the_plugin_is_registered_through_its_entry_point() -> None:
    points = metadata.entry_points(group="pytest11")
    assert any(point.name == "llama_vcr" and point.value == "llama_vcr.plugin" for point in points)


@pytest.mark.skipif(
    not os.environ.get("LLAMA_VCR_EXPECT_INSTALLED"), reason="only when CI runs the suite against the wheel"
)
def test_the_suite_runs_against_the_installed_wheel_not_the_source_tree() -> None:
    assert "site-packages" in PACKAGE_DIR.parts, PACKAGE_DIR
    assert not (PACKAGE_DIR.parent / "pyproject.toml").exists()
