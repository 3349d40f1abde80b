"""What a vcr test's pytest reports show, and the end-of-session summary line.

A failed test's report gets its replay misses and the network refusals its failure does not show
as sections, and every secret the redaction policy knows masked; replays only tolerant matching
let through get a section of their own; unused and expired recordings of a test that passed in
replay mode warn or fail it. ``plugin``'s hooks call these (the miss message itself comes from
``_report``); :class:`SessionSummary` and :class:`NetworkReport` are plugins it registers.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from ._errors import ExpiredRecordingsWarning, UnusedRecordingsWarning, messages_in
from ._keys import CANONICALIZER_KEY, MAX_AGE_KEY, POLICY_KEY, RECORDINGS_KEY, TOLERATED_SHOWN_KEY
from ._redact import Redactor

if TYPE_CHECKING:  # vcrpy (~80 ms) is imported at the first vcr test, not when pytest starts
    from ._network import NetworkPolicy
    from ._vcrpy import Recordings

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


def attach_counts(item: pytest.Item, recordings: Recordings, report: pytest.TestReport) -> None:
    """A test's recording counts, on its teardown report (for :class:`SessionSummary`), if any."""
    counts = _counts(item, recordings)
    if any(counts.values()):
        setattr(report, COUNTS_ATTR, counts)


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


def after_replay(item: pytest.Item, report: pytest.TestReport) -> None:
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
                item.warn(category(session_redactor(item.config).mask(message)))
                continue
            except Warning:  # ``filterwarnings = error``: it fails this test, never the session
                message += " (raised as an error by the warning filters)"
        report.outcome = "failed"
        report.longrepr = f"llama-vcr: {session_redactor(item.config).mask(message)}"


def report_tolerated(item: pytest.Item, recordings: Recordings, report: pytest.TestReport) -> None:
    """Replays tolerant matching let through since the last phase: a "llama-vcr tolerated
    differences" section of this phase's report (shown by ``-rP`` for a passed test, always for a
    failed one). Never a warning: ``filterwarnings = error`` must not turn it into a failure."""
    shown = item.stash.get(TOLERATED_SHOWN_KEY, 0)
    new = recordings.tolerated[shown:]
    if new:
        item.stash[TOLERATED_SHOWN_KEY] = shown + len(new)
        text = session_redactor(item.config).mask("\n".join(new))
        report.sections.append(("llama-vcr tolerated differences", text))


def report_misses(report: pytest.TestReport, recordings: Recordings, call: pytest.CallInfo[None]) -> None:
    """A failed test's replay misses: the one-line summary of the miss it raised, and a "llama-vcr
    replay misses" section for those its failure does not show; each shown once."""
    from ._vcrpy.miss import RecordingNotFound

    raised = messages_in(call.excinfo.value if call.excinfo is not None else None, RecordingNotFound)
    if raised:  # pytest's one-line summary: the miss's first line, not the exception's module path
        _summarise(report, raised[0])
    swallowed = [message for message in recordings.misses if message not in raised]
    if swallowed:  # a miss the test caught (or an SDK wrapped) still shows, once
        report.sections.append(("llama-vcr replay misses", "\n\n".join(swallowed)))
    recordings.misses.clear()


def session_redactor(config: pytest.Config) -> Redactor:
    """The session's redaction policy (the default one before ``pytest_configure`` set it up)."""
    canonicalizer = config.stash.get(CANONICALIZER_KEY, None)
    return canonicalizer[0].redactor if canonicalizer is not None else Redactor.from_names()


def mask_failure(report: pytest.TestReport, redactor: Redactor) -> None:
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
