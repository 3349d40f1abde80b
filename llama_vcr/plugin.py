"""The pytest plugin's hooks: options, each test's configuration of pytest-recording's VCR, when
its recordings are saved, and replay mode's network block. What a test's reports show is in
``_test_reports``, the stash keys in ``_keys``.

Installed through the ``pytest11`` entry point, so installing llama-vcr is enough: every
``@pytest.mark.vcr`` test then records to and replays from llama-vcr recordings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

# pytest-recording asks pytest to rewrite asserts in vcr.matchers; asking before vcrpy is imported
# keeps pytest from warning that it came too late.
pytest.register_assert_rewrite("vcr.matchers")

from . import _fixtures
from ._canonical import BodyRules, Canonicalizer
from ._headers import ResponseHeaders
from ._keys import (
    CANONICALIZER_KEY,
    CODEC_KEY,
    INTERRUPTED_KEY,
    ITEM_KEY,
    MAX_AGE_KEY,
    MAX_FILE_SIZE_KEY,
    NETWORK_KEY,
    POLICY_KEY,
    RECORDINGS_KEY,
    REPORTS_KEY,
    RESPONSE_HEADERS_KEY,
)
from ._normalize import Normalizer
from ._options import INI_OPTIONS
from ._redact import Redactor
from ._test_reports import (
    NetworkReport,
    SessionSummary,
    after_replay,
    attach_counts,
    mask_failure,
    report_misses,
    report_tolerated,
    session_redactor,
)
from ._vcrpy import Recordings

if TYPE_CHECKING:  # vcrpy (~80 ms) is imported at the first vcr test, not when pytest starts
    from vcr import VCR

    from ._network import AllowedHosts
    from .format.codec import RecordingCodec


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, (help_text, kind, default) in INI_OPTIONS.items():
        parser.addini(name, help_text, type=kind, default=default)


#: ``llama_vcr_match`` values.
MATCH_MODES = ("exact", "tolerant")


def pytest_configure(config: pytest.Config) -> None:
    match = config.getini("llama_vcr_match")
    if match not in MATCH_MODES:
        raise pytest.UsageError(f"llama_vcr_match must be exact or tolerant, not {match!r}")
    max_age = config.getini("llama_vcr_max_age")
    try:
        config.stash[MAX_AGE_KEY] = float(max_age) if max_age else None
    except ValueError:
        raise pytest.UsageError(f"llama_vcr_max_age must be a number of days, not {max_age!r}") from None
    from ._store import parse_size

    try:
        config.stash[MAX_FILE_SIZE_KEY] = parse_size(config.getini("llama_vcr_max_file_size"))
    except ValueError as exc:
        raise pytest.UsageError(f"llama_vcr_max_file_size: {exc}") from None
    from .format.envelopes import allow_type_packages

    try:
        allow_type_packages(*config.getini("llama_vcr_type_packages"))
    except ValueError as exc:
        raise pytest.UsageError(f"llama_vcr_type_packages: {exc}") from None
    if config.getini("llama_vcr_allowed_hosts"):  # checked now; parsed lazily otherwise
        _allowed_hosts(config)
    redactor = Redactor.from_names(
        config.getini("llama_vcr_redact"),
        config.getini("llama_vcr_keep_headers"),
        config.getini("llama_vcr_secret_env"),
        config.getini("llama_vcr_secret_env_patterns"),
    )
    normalizer = Normalizer.configured(
        config.getini("llama_vcr_volatile_fields"), config.getini("llama_vcr_stable_fields")
    )
    config.stash[CANONICALIZER_KEY] = (Canonicalizer(redactor), normalizer)
    try:
        config.stash[RESPONSE_HEADERS_KEY] = ResponseHeaders.configured(
            config.getini("llama_vcr_keep_response_headers"),
            config.getini("llama_vcr_drop_response_headers"),
            redactor,
        )
    except ValueError as exc:
        raise pytest.UsageError(f"llama_vcr_keep_response_headers: {exc}") from None
    # Registered now, after pytest-recording, so that these fixtures override its defaults.
    if not config.pluginmanager.has_plugin("llama_vcr.fixtures"):
        config.pluginmanager.register(_fixtures, "llama_vcr.fixtures")
    if not config.pluginmanager.has_plugin("llama_vcr.summary"):
        config.pluginmanager.register(SessionSummary(), "llama_vcr.summary")
    if not config.pluginmanager.has_plugin("llama_vcr.interrupts"):
        config.pluginmanager.register(InterruptWatch(config), "llama_vcr.interrupts")


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
    codec = config.stash.get(CODEC_KEY, None)
    if codec is None:  # built at the first vcr test: the codec imports vcrpy
        from .format.codec import RecordingCodec

        canonicalizer, normalizer = config.stash[CANONICALIZER_KEY]
        headers = config.stash.get(RESPONSE_HEADERS_KEY, None) or ResponseHeaders()
        codec = config.stash[CODEC_KEY] = RecordingCodec(
            canonicalizer, normalizer=normalizer, response_headers=headers
        )
    ignore = [*config.getini("llama_vcr_ignore_body_paths"), *merged.get("ignore_body_paths", ())]
    rules = BodyRules.from_config(ignore, merged.get("replace_body_paths"))
    if not rules:
        return codec
    return replace(codec, canonicalizer=Canonicalizer(codec.redactor, rules))


def pytest_recording_configure(config: pytest.Config, vcr: VCR) -> None:
    from ._vcrpy import configure_vcr

    item = config.stash.get(ITEM_KEY, None)
    merged = _merged_config(item) if item is not None else {}
    mode = str(merged.get("record_mode") or config.getoption("--record-mode") or "none")
    test_id = item.nodeid if item is not None else None
    if item is not None and _replays_existing_cassette(item, vcr, merged, mode):
        return
    tolerant = config.getini("llama_vcr_match") == "tolerant"
    codec = _test_codec(config, merged)
    recordings = configure_vcr(vcr, codec, test_id, rewrite=mode == "rewrite", tolerant=tolerant)
    recordings.cassette_root = config.rootpath / config.getini("llama_vcr_cassette_dir")
    recordings.share_ssl_contexts = bool(config.getini("llama_vcr_share_ssl_contexts"))
    if MAX_FILE_SIZE_KEY in config.stash:
        recordings.max_file_size = config.stash[MAX_FILE_SIZE_KEY]
    if item is not None:
        item.stash[RECORDINGS_KEY] = cast(Recordings, recordings)
        on_failure = bool(config.getini("llama_vcr_save_on_failure"))
        recordings.save_allowed = lambda: _may_save(item, on_failure=on_failure)
        recordings.commit_later = True  # committed (or discarded) once the teardown is over


def _replays_existing_cassette(item: pytest.Item, vcr: VCR, merged: dict[str, Any], mode: str) -> bool:
    """Installing is not switching: a test with a vcrpy cassette and no llama-vcr recordings keeps
    replaying the cassette read-only (``llama_vcr._vcrpy.existing``); True if it does."""
    from ._vcrpy import SERIALIZER_NAME

    if mode in ("rewrite", "all") or merged.get("serializer", SERIALIZER_NAME) != SERIALIZER_NAME:
        return False  # (a suite that names vcrpy's serializer itself gets vcrpy as before)
    from ._vcrpy.existing import cassette_of_test, replay_existing

    request = item._request  # type: ignore[attr-defined]
    name = str(request.getfixturevalue("default_cassette_name"))
    cassette_dir = Path(vcr.cassette_library_dir or ".")
    cassette = cassette_of_test(Path(item.path), cassette_dir, name, getattr(item, "cls", None), item.name)
    if cassette is None:
        return False
    root = item.config.rootpath / item.config.getini("llama_vcr_cassette_dir")
    max_size = item.config.stash.get(MAX_FILE_SIZE_KEY, None)
    mask = session_redactor(item.config).mask
    replay_existing(vcr, cassette, test_id=item.nodeid, cassette_root=root, mask=mask, max_size=max_size)
    return True


def _may_save(item: pytest.Item, *, on_failure: bool) -> bool:
    """Whether the cassette may save a test's recordings when its ``vcr`` fixture exits.

    Only a test that really passed: its setup passed, its call passed (not skipped by
    ``pytest.skip()``, not xfailed or xpassed) and no interrupt is in progress. With
    ``llama_vcr_save_on_failure`` a failed or xfailed call saves too. Whether the saved set is
    written and put in place is decided after the teardown (:func:`_finish_saving`).
    """
    if item.config.stash.get(INTERRUPTED_KEY, False):
        return False
    reports = item.stash.get(REPORTS_KEY, {})
    setup, call = reports.get("setup"), reports.get("call")
    if setup is None or not setup.passed or call is None:
        return False  # (no call report: the test was interrupted, or its setup failed)
    expected_failure = hasattr(call, "wasxfail")
    if call.skipped and not expected_failure:
        return False
    return on_failure or (call.passed and not expected_failure)


def _finish_saving(item: pytest.Item, recordings: Recordings, report: pytest.TestReport) -> None:
    """After the teardown: write the saved recordings and put them in place if the teardown passed too
    (every fixture torn down in this phase, before or after the ``vcr`` fixture), else drop them.

    A failure to put them in place fails the teardown report (naming the test and the error).
    """
    on_failure = bool(item.config.getini("llama_vcr_save_on_failure"))
    if item.config.stash.get(INTERRUPTED_KEY, False) or not (report.passed or on_failure):
        recordings.discard()
        return
    try:
        recordings.commit()
    except Exception as exc:  # never an INTERNALERROR: the test's teardown fails, the session goes on
        recordings.discard()
        report.outcome = "failed"
        report.longrepr = (
            f"llama-vcr: could not save the recordings of {item.nodeid}: {type(exc).__name__}: {exc}"
        )


class InterruptWatch:
    """Notes an interrupt (Ctrl-C, SIGINT, ``pytest.exit()``): from then on nothing is saved, not
    even by the fixtures of the interrupted test, which pytest tears down at the end of the session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_keyboard_interrupt(self) -> None:
        self.config.stash[INTERRUPTED_KEY] = True


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    """After the last teardown (an interrupted test's runs now): drop what was never committed."""
    try:
        return (yield)
    finally:
        for item in session.items:
            recordings = item.stash.get(RECORDINGS_KEY, None)
            if recordings is not None:
                recordings.discard()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    item.stash.setdefault(REPORTS_KEY, {})[call.when] = report
    if call.when == "call" and report.passed:
        after_replay(item, report)
    recordings = item.stash.get(RECORDINGS_KEY, None)
    if recordings is not None:
        report_tolerated(item, recordings, report)
    if recordings is not None and call.when == "teardown":  # the cassette has saved by now
        _finish_saving(item, recordings, report)
        attach_counts(item, recordings, report)
    if recordings is not None and recordings.misses and report.failed:
        report_misses(report, recordings, call)
    if recordings is not None and report.failed:
        mask_failure(report, session_redactor(item.config))
    return report


def _allowed_hosts(config: pytest.Config) -> AllowedHosts:
    """``llama_vcr_allowed_hosts``, parsed once (``_network`` is imported at the first replay)."""
    allowed = config.stash.get(NETWORK_KEY, None)
    if allowed is None:
        from ._network import AllowedHosts

        try:
            allowed = AllowedHosts.parse(config.getini("llama_vcr_allowed_hosts"))
        except ValueError as exc:
            raise pytest.UsageError(f"llama_vcr_allowed_hosts: {exc}") from None
        config.stash[NETWORK_KEY] = allowed
    return allowed


@pytest.fixture(autouse=True)
def _llama_vcr_replay_offline(request: pytest.FixtureRequest, vcr: Any) -> Generator[None, None, None]:
    """A vcr test whose cassette is write-protected (it replays) cannot reach the network while it
    runs, nor while the fixtures set up after this one run (see ``llama_vcr._network``)."""
    if vcr is None or not getattr(vcr, "write_protected", False):
        yield
        return
    config = request.config
    if not config.getini("llama_vcr_block_network"):
        yield
        return
    from ._network import NetworkPolicy, blocking

    regexes = request.getfixturevalue("allowed_hosts") or ()  # pytest-recording's, if any
    try:
        allowed = _allowed_hosts(config).with_regexes([regexes] if isinstance(regexes, str) else regexes)
    except ValueError as exc:
        raise pytest.UsageError(f"allowed_hosts: {exc}") from None
    mode = getattr(vcr.record_mode, "value", vcr.record_mode)
    policy = request.node.stash[POLICY_KEY] = NetworkPolicy(allowed, request.node.nodeid, str(mode))
    if not config.pluginmanager.has_plugin("llama_vcr.network"):
        config.pluginmanager.register(NetworkReport(), "llama_vcr.network")
    with blocking(policy):
        yield
