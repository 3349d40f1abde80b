"""The pytest plugin: options, hooks into pytest-recording, and replay-miss reporting.

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
from ._errors import ExpiredRecordingsWarning, UnusedRecordingsWarning, messages_in
from ._headers import ResponseHeaders
from ._normalize import Normalizer
from ._options import INI_OPTIONS
from ._redact import Redactor
from ._vcrpy import Recordings

if TYPE_CHECKING:  # vcrpy (~80 ms) is imported at the first vcr test, not when pytest starts
    from vcr import VCR

    from ._network import AllowedHosts, NetworkPolicy
    from .format.codec import RecordingCodec

CANONICALIZER_KEY = pytest.StashKey["tuple[Canonicalizer, Normalizer]"]()
CODEC_KEY = pytest.StashKey["RecordingCodec"]()
RESPONSE_HEADERS_KEY = pytest.StashKey[ResponseHeaders]()
ITEM_KEY = pytest.StashKey[pytest.Item]()
RECORDINGS_KEY = pytest.StashKey[Recordings]()
#: A test's reports so far, by phase ("setup", "call", "teardown").
REPORTS_KEY = pytest.StashKey["dict[str, pytest.TestReport]"]()
#: Set when the session is interrupted (Ctrl-C, SIGINT, pytest.exit()): nothing is saved after it.
INTERRUPTED_KEY = pytest.StashKey[bool]()
MAX_AGE_KEY = pytest.StashKey["float | None"]()
MAX_FILE_SIZE_KEY = pytest.StashKey[int]()
NETWORK_KEY = pytest.StashKey["AllowedHosts"]()
POLICY_KEY = pytest.StashKey["NetworkPolicy"]()
#: How many of a test's tolerated replays its reports already show.
TOLERATED_SHOWN_KEY = pytest.StashKey[int]()


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


#: Attribute of a teardown report carrying its test's counts (survives pytest-xdist's transport).
COUNTS_ATTR = "llama_vcr_counts"


class SessionSummary:
    """Adds up each test's recording counts and prints one line at the end of the session:
    ``llama-vcr: 12 replayed, 3 written, 1 removed, 2 unused, 0 expired``, and ``, 2 tolerated``
    when replays matched only by tolerant matching; nothing if no test touched recordings. Counts
    arrive on teardown reports, so pytest-xdist workers' are included."""

    KEYS = ("replayed", "written", "removed", "unused", "expired", "tolerated")
    #: Shown only when not zero (tolerant matching is opt-in).
    OPTIONAL = ("tolerated",)

    def __init__(self) -> None:
        self.totals = dict.fromkeys(self.KEYS, 0)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        counts = getattr(report, COUNTS_ATTR, None)
        if isinstance(counts, dict):
            for key in self.KEYS:
                self.totals[key] += int(counts.get(key, 0))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if any(self.totals.values()):
            keys = [key for key in self.KEYS if key not in self.OPTIONAL or self.totals[key]]
            parts = ", ".join(f"{self.totals[key]} {key}" for key in keys)
            terminalreporter.write_line(f"llama-vcr: {parts}")


def _counts(item: pytest.Item, recordings: Recordings) -> dict[str, int]:
    max_age = item.config.stash.get(MAX_AGE_KEY, None)
    replaying = recordings.replaying
    return {
        "replayed": recordings.replayed(),
        "written": recordings.written,
        "removed": recordings.removed,
        "unused": len(recordings.unused()) if replaying else 0,
        "expired": len(recordings.expired(max_age)) if replaying and max_age is not None else 0,
        "tolerated": len(recordings.tolerated),
    }


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
    mask = _redactor(item.config).mask
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


def _after_replay(item: pytest.Item, report: pytest.TestReport) -> None:
    """Unused and expired recordings of a test that passed in replay mode: warn or fail."""
    recordings = item.stash.get(RECORDINGS_KEY, None)
    if recordings is None or not recordings.replaying:
        return
    problems: list[tuple[str, str, type[Warning]]] = []
    unused = recordings.unused()
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
    expired = recordings.expired(max_age) if max_age is not None else []
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
        if action == "ignore":
            continue
        if action != "fail":
            try:
                item.warn(category(_redactor(item.config).mask(message)))
                continue
            except Warning:  # ``filterwarnings = error``: it fails this test, never the session
                message += " (raised as an error by the warning filters)"
        report.outcome = "failed"
        report.longrepr = f"llama-vcr: {_redactor(item.config).mask(message)}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    item.stash.setdefault(REPORTS_KEY, {})[call.when] = report
    if call.when == "call" and report.passed:
        _after_replay(item, report)
    recordings = item.stash.get(RECORDINGS_KEY, None)
    if recordings is not None:
        _report_tolerated(item, recordings, report)
    if recordings is not None and call.when == "teardown":  # the cassette has saved by now
        _finish_saving(item, recordings, report)
        counts = _counts(item, recordings)
        if any(counts.values()):
            setattr(report, COUNTS_ATTR, counts)
    if recordings is not None and recordings.misses and report.failed:
        from ._vcrpy.miss import RecordingNotFound

        raised = messages_in(call.excinfo.value if call.excinfo is not None else None, RecordingNotFound)
        if raised:  # pytest's one-line summary: the miss's first line, not the exception's module path
            _summarise(report, raised[0])
        swallowed = [message for message in recordings.misses if message not in raised]
        if swallowed:  # a miss the test caught (or an SDK wrapped) still shows, once
            report.sections.append(("llama-vcr replay misses", "\n\n".join(swallowed)))
        recordings.misses.clear()
    if recordings is not None and report.failed:
        _mask_failure(report, _redactor(item.config))
    return report


def _report_tolerated(item: pytest.Item, recordings: Recordings, report: pytest.TestReport) -> None:
    """Replays tolerant matching let through since the last phase: a "llama-vcr tolerated
    differences" section of this phase's report (shown by ``-rP`` for a passed test, always for a
    failed one). Never a warning: ``filterwarnings = error`` must not turn it into a failure."""
    shown = item.stash.get(TOLERATED_SHOWN_KEY, 0)
    new = recordings.tolerated[shown:]
    if new:
        item.stash[TOLERATED_SHOWN_KEY] = shown + len(new)
        text = _redactor(item.config).mask("\n".join(new))
        report.sections.append(("llama-vcr tolerated differences", text))


def _redactor(config: pytest.Config) -> Redactor:
    canonicalizer = config.stash.get(CANONICALIZER_KEY, None)
    return canonicalizer[0].redactor if canonicalizer is not None else Redactor.from_names()


def _mask_failure(report: pytest.TestReport, redactor: Redactor) -> None:
    """A vcr test's failure as pytest shows it (terminal, junit XML): every secret the redaction
    policy knows masked, in the traceback's source lines, function arguments and messages."""
    import dataclasses

    redaction = redactor.redaction(mask=True)

    def masked(value: Any, depth: int = 0) -> Any:
        if isinstance(value, str):
            return redaction.text(value)
        if depth > 10:
            return value
        if isinstance(value, list):
            value[:] = [masked(item, depth + 1) for item in value]
        elif isinstance(value, tuple):
            return tuple(masked(item, depth + 1) for item in value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                setattr(value, field.name, masked(getattr(value, field.name), depth + 1))
        return value

    report.longrepr = masked(report.longrepr)


def _summarise(report: pytest.TestReport, message: str) -> None:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and hasattr(crash, "message"):
        crash.message = message.splitlines()[0]


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


class NetworkReport:
    """A failed test's report gets a "llama-vcr network blocked" section for each refusal its
    failure does not show (a client that swallowed the error, or retried and wrapped it)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        policy: NetworkPolicy | None = item.stash.get(POLICY_KEY, None)
        if policy is not None and policy.refused and report.failed:
            from ._network import NetworkBlocked

            shown = messages_in(call.excinfo.value if call.excinfo is not None else None, NetworkBlocked)
            hidden = [message for message in dict.fromkeys(policy.refused) if message not in shown]
            if hidden:
                report.sections.append(("llama-vcr network blocked", "\n\n".join(hidden)))
            policy.refused.clear()
        return report
