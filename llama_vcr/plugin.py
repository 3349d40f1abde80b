"""The pytest plugin: options, hooks into pytest-recording, and replay-miss reporting.

Installed through the ``pytest11`` entry point, so installing llama-vcr is enough: every
``@pytest.mark.vcr`` test then records to and replays from llama-vcr recordings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from dataclasses import replace
from typing import Any

import pytest
from vcr import VCR

from . import _fixtures
from ._canonical import BodyRules, Canonicalizer
from ._errors import MISSES
from ._format import RecordingCodec
from ._normalize import Normalizer
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
        "llama_vcr_ignore_body_paths",
        "Request body paths (dotted, * = any) left out of matching and of stored bodies.",
        type="linelist",
        default=[],
    )
    parser.addini(
        "llama_vcr_volatile_fields",
        "Extra response fields normalised at write time (numbers -> 0, strings -> '').",
        type="linelist",
        default=[],
    )
    parser.addini(
        "llama_vcr_stable_fields",
        "Default volatile response fields to keep as recorded ('id' keeps ids unmapped).",
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
    normalizer = Normalizer.configured(
        config.getini("llama_vcr_volatile_fields"), config.getini("llama_vcr_stable_fields")
    )
    config.stash[CODEC_KEY] = RecordingCodec(Canonicalizer(redactor), normalizer=normalizer)
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


def _merged_config(item: pytest.Item) -> dict[str, Any]:
    """``vcr_config`` updated by the ``vcr`` markers' kwargs, as pytest-recording merges them."""
    merged: dict[str, Any] = {}
    with contextlib.suppress(AttributeError, pytest.FixtureLookupError):
        merged.update(item._request.getfixturevalue("vcr_config"))  # type: ignore[attr-defined]
    for marker in reversed(list(item.iter_markers(name="vcr"))):
        merged.update(marker.kwargs)
    return merged


def _test_codec(config: pytest.Config, merged: dict[str, Any]) -> RecordingCodec:
    """The session's codec, with this test's ``ignore_body_paths`` / ``replace_body_paths``."""
    codec = config.stash[CODEC_KEY]
    ignore = [*config.getini("llama_vcr_ignore_body_paths"), *merged.get("ignore_body_paths", ())]
    rules = BodyRules.from_config(ignore, merged.get("replace_body_paths"))
    if not rules:
        return codec
    return replace(codec, canonicalizer=Canonicalizer(codec.redactor, rules))


def pytest_recording_configure(config: pytest.Config, vcr: VCR) -> None:
    item = config.stash.get(ITEM_KEY, None)
    merged = _merged_config(item) if item is not None else {}
    mode = str(merged.get("record_mode") or config.getoption("--record-mode") or "none")
    test_id = item.nodeid if item is not None else None
    configure_vcr(vcr, _test_codec(config, merged), test_id, rewrite=mode == "rewrite")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if MISSES and report.failed:
        report.sections.append(("llama-vcr replay misses", "\n\n".join(MISSES)))
        MISSES.clear()
    return report
