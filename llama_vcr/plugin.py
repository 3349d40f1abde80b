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

# pytest-recording asks pytest to rewrite asserts in vcr.matchers; asking before vcrpy is imported
# below keeps pytest from warning that it came too late.
pytest.register_assert_rewrite("vcr.matchers")

from vcr import VCR

from . import _fixtures
from ._canonical import BodyRules, Canonicalizer
from ._errors import ExpiredRecordingsWarning, UnusedRecordingsWarning
from ._normalize import Normalizer
from ._redact import Redactor
from ._vcrpy import configure_vcr
from ._vcrpy.persister import RecordingPersister
from .format.codec import RecordingCodec

CODEC_KEY = pytest.StashKey[RecordingCodec]()
ITEM_KEY = pytest.StashKey[pytest.Item]()
PERSISTER_KEY = pytest.StashKey[RecordingPersister]()
FAILED_KEY = pytest.StashKey[bool]()
MAX_AGE_KEY = pytest.StashKey["float | None"]()


#: ini options: name -> (help, type, default).
INI_OPTIONS: dict[str, tuple[str, Any, Any]] = {
    "llama_vcr_cassette_dir": (
        "Directory (relative to the rootdir) that holds recordings.",
        "string",
        "cassettes",
    ),
    "llama_vcr_redact": ("Extra header / query parameter names whose values are secrets.", "linelist", []),
    "llama_vcr_secret_env": (
        "Extra environment variables whose values must never be written.",
        "linelist",
        [],
    ),
    "llama_vcr_keep_headers": (
        "Extra request headers to store (secret-looking ones are still dropped).",
        "linelist",
        [],
    ),
    "llama_vcr_ignore_body_paths": (
        "Request body paths (dotted, * = any) not matched or stored.",
        "linelist",
        [],
    ),
    "llama_vcr_volatile_fields": ("Extra response fields normalised at write time.", "linelist", []),
    "llama_vcr_stable_fields": (
        "Default volatile fields kept as recorded ('id': no id mapping).",
        "linelist",
        [],
    ),
    "llama_vcr_unused": (
        "A replayed test that left recordings unplayed: warn, fail or ignore.",
        "string",
        "warn",
    ),
    "llama_vcr_max_age": ("Recordings older than this many days are expired in replay mode.", "string", ""),
    "llama_vcr_expired": ("What an expired recording does in replay mode: warn or fail.", "string", "warn"),
    "llama_vcr_save_on_failure": ("Save recordings of a test that fails while recording.", "bool", False),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, (help_text, kind, default) in INI_OPTIONS.items():
        parser.addini(name, help_text, type=kind, default=default)


def pytest_configure(config: pytest.Config) -> None:
    max_age = config.getini("llama_vcr_max_age")
    try:
        config.stash[MAX_AGE_KEY] = float(max_age) if max_age else None
    except ValueError:
        raise pytest.UsageError(f"llama_vcr_max_age must be a number of days, not {max_age!r}") from None
    redactor = Redactor.from_names(
        config.getini("llama_vcr_redact"),
        config.getini("llama_vcr_keep_headers"),
        config.getini("llama_vcr_secret_env"),
    )
    normalizer = Normalizer.configured(
        config.getini("llama_vcr_volatile_fields"), config.getini("llama_vcr_stable_fields")
    )
    config.stash[CODEC_KEY] = RecordingCodec(Canonicalizer(redactor), normalizer=normalizer)
    # Registered now, after pytest-recording, so that these fixtures override its defaults.
    if not config.pluginmanager.has_plugin("llama_vcr.fixtures"):
        config.pluginmanager.register(_fixtures, "llama_vcr.fixtures")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[ITEM_KEY] = item


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
    persister = configure_vcr(vcr, _test_codec(config, merged), test_id, rewrite=mode == "rewrite")
    if item is not None:
        item.stash[PERSISTER_KEY] = persister
        if not config.getini("llama_vcr_save_on_failure"):
            persister.save_allowed = lambda: not item.stash.get(FAILED_KEY, False)


def _after_replay(item: pytest.Item, report: pytest.TestReport) -> None:
    """Unused and expired recordings of a test that passed in replay mode: warn or fail."""
    persister = item.stash.get(PERSISTER_KEY, None)
    if persister is None or not persister.replaying:
        return
    problems: list[tuple[str, str, type[Warning]]] = []
    unused = persister.unused()
    if unused:
        names = ", ".join(path.name for path in unused)
        problems.append(
            (
                item.config.getini("llama_vcr_unused"),
                f"{item.nodeid} did not replay {len(unused)} of its recordings ({names}); the test no longer "
                "sends these requests. Re-record it with --record-mode=rewrite to remove them.",
                UnusedRecordingsWarning,
            )
        )
    max_age = item.config.stash.get(MAX_AGE_KEY, None)
    expired = persister.expired(max_age) if max_age is not None else []
    if expired:
        oldest = max(age for _, age in expired)
        problems.append(
            (
                item.config.getini("llama_vcr_expired"),
                f"{item.nodeid} replayed {len(expired)} recording(s) older than {max_age:g} days (oldest: "
                f"{oldest} days); re-record it against the real API with --record-mode=rewrite.",
                ExpiredRecordingsWarning,
            )
        )
    for action, message, category in problems:
        if action == "fail":
            report.outcome = "failed"
            report.longrepr = f"llama-vcr: {message}"
        elif action != "ignore":
            item.warn(category(message))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when == "call":
        item.stash[FAILED_KEY] = report.failed
        if report.passed:
            _after_replay(item, report)
    persister = item.stash.get(PERSISTER_KEY, None)
    if persister is not None and persister.misses and report.failed:
        report.sections.append(("llama-vcr replay misses", "\n\n".join(persister.misses)))
        persister.misses.clear()
    return report
