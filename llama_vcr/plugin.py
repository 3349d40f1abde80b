"""The pytest plugin: options, hooks into pytest-recording, and replay-miss reporting.

Installed through the ``pytest11`` entry point, so installing llama-vcr is enough: every
``@pytest.mark.vcr`` test then records to and replays from llama-vcr recordings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import Any

import pytest
from vcr import VCR

from . import _fixtures
from ._errors import MISSES
from ._format import RecordingCodec
from ._redact import Redactor
from ._vcr import configure_vcr, install_miss_error, uninstall_miss_error

CODEC_KEY = pytest.StashKey[RecordingCodec]()
ITEM_KEY = pytest.StashKey[pytest.Item]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "llama_vcr_cassette_dir",
        "Directory (relative to the rootdir) that holds llama-vcr recordings.",
        default="cassettes",
    )
    parser.addini(
        "llama_vcr_redact",
        "Extra header / query parameter names whose values must never be written.",
        type="linelist",
        default=[],
    )
    parser.addini(
        "llama_vcr_keep_headers",
        "Extra request header names to store in recordings (secret-looking names are still dropped).",
        type="linelist",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    redactor = Redactor.from_names(config.getini("llama_vcr_redact"), config.getini("llama_vcr_keep_headers"))
    config.stash[CODEC_KEY] = RecordingCodec(redactor=redactor)
    # Registered now, after pytest-recording, so that these fixtures override its defaults.
    if not config.pluginmanager.has_plugin("llama_vcr.fixtures"):
        config.pluginmanager.register(_fixtures, "llama_vcr.fixtures")
    install_miss_error()


def pytest_unconfigure(config: pytest.Config) -> None:
    uninstall_miss_error()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[ITEM_KEY] = item
    MISSES.clear()


def _record_mode(item: pytest.Item) -> str:
    """The record mode pytest-recording uses for ``item`` (marker / ``vcr_config`` beat the CLI)."""
    merged: dict[str, Any] = {}
    with contextlib.suppress(AttributeError, pytest.FixtureLookupError):
        merged.update(item._request.getfixturevalue("vcr_config"))  # type: ignore[attr-defined]
    for marker in reversed(list(item.iter_markers(name="vcr"))):
        merged.update(marker.kwargs)
    return str(merged.get("record_mode") or item.config.getoption("--record-mode") or "none")


def pytest_recording_configure(config: pytest.Config, vcr: VCR) -> None:
    item = config.stash.get(ITEM_KEY, None)
    test_id = item.nodeid if item is not None else None
    rewrite = item is not None and _record_mode(item) == "rewrite"
    configure_vcr(vcr, config.stash[CODEC_KEY], test_id, rewrite=rewrite)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if MISSES and report.failed:
        report.sections.append(("llama-vcr replay misses", "\n\n".join(MISSES)))
        MISSES.clear()
    return report
