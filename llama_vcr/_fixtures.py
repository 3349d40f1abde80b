"""Fixtures that give pytest-recording llama-vcr defaults (a user's own fixtures still win)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ._vcrpy import DEFAULT_MATCH_ON, SERIALIZER_NAME


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """llama-vcr's ``vcr_config``; override it and extend it with ``{**vcr_config, ...}``."""
    return {"serializer": SERIALIZER_NAME, "match_on": DEFAULT_MATCH_ON}


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """``<rootdir>/cassettes/<test module path without .py>``; each test gets a directory below it."""
    rootdir = request.config.rootpath
    module = Path(request.node.path)
    try:
        relative = module.relative_to(rootdir).with_suffix("")
    except ValueError:  # a test module outside the rootdir
        relative = Path(module.stem)
    return str(rootdir / request.config.getini("llama_vcr_cassette_dir") / relative)
