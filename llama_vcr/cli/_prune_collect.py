"""A pytest plugin ``llama-vcr prune`` loads (``-p``) into its ``pytest --collect-only`` run.

It writes, to the file named by :data:`EXTRAS_ENV`, the extra cassettes each collected test names
on its ``vcr`` markers (``@pytest.mark.vcr("../test_other/test_x")``), with the directory relative
ones are read from (the test's ``vcr_cassette_dir``) when it can be known without running fixtures,
so that prune keeps recordings that a test still reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # (prune imports this module for EXTRAS_ENV: pytest is imported only by pytest)
    import pytest

#: Environment variable naming the file the extra cassettes are written to (JSON).
EXTRAS_ENV = "LLAMA_VCR_PRUNE_EXTRAS"


def _cassette_dir(item: pytest.Item) -> str | None:
    """The test's ``vcr_cassette_dir`` if it is llama-vcr's or pytest-recording's, else None (a
    project's own fixture: it is known only by running it)."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = getattr(info, "name2fixturedefs", {}).get("vcr_cassette_dir") or ()
    module = getattr(definitions[-1].func, "__module__", None) if definitions else "llama_vcr._fixtures"
    path = Path(item.path)
    if module == "llama_vcr._fixtures":
        try:
            from llama_vcr._fixtures import module_cassette_dir

            return str(module_cassette_dir(item.config, path))
        except ValueError:  # llama-vcr's ini options are not registered (its plugin is not loaded)
            return None
    if module == "pytest_recording.plugin":
        return str(path.parent / "cassettes" / path.stem)
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    out = os.environ.get(EXTRAS_ENV)
    if not out:
        return
    entries: list[dict[str, Any]] = []
    for item in session.items:
        paths = [str(arg) for marker in item.iter_markers(name="vcr") for arg in marker.args]
        if paths:
            entries.append({"test": item.nodeid, "paths": paths, "base": _cassette_dir(item)})
    Path(out).write_text(json.dumps(entries), encoding="utf-8")
