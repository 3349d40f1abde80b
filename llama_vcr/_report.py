"""The near-miss reporter: why a request did not replay, shown as a diff against the closest recording.

vcrpy's own message lists matcher names; this one picks the recording of the same test that is
closest (same method and endpoint first, then the most similar body) and prints the canonical
bodies' differences by JSON path: recorded value vs sent value, long strings as a compact diff.
Both bodies are canonical, so already redacted; the message is masked by the same policy
(:meth:`llama_vcr._redact.Redactor.mask`) before anyone sees it.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ._canonical import CanonicalRequest, match_form
from ._errors import record_command
from ._redact import DEFAULT_REDACTOR, Redactor

MAX_DIFFS = 12
#: Characters of one value (or one changed piece of a long string) a miss message shows.
MAX_VALUE = 80
#: Characters of a long string's changed middle that are diffed word by word.
MAX_DIFFED = 4000
#: Characters a whole miss message may take (the request and the advice always stay).
MAX_MESSAGE = 8000
_MISSING = object()


def closest(request: CanonicalRequest, recorded: Sequence[CanonicalRequest]) -> CanonicalRequest | None:
    """The recorded request most like ``request``: same method and endpoint first, then body."""

    def score(candidate: CanonicalRequest) -> tuple[int, int, float]:
        ratio = difflib.SequenceMatcher(None, candidate.body_key[:4000], request.body_key[:4000]).ratio()
        return (candidate.endpoint == request.endpoint, candidate.method == request.method, ratio)

    return max(recorded, key=score, default=None)


def body_diff(recorded: Any, sent: Any, path: str = "$") -> Iterator[tuple[str, Any, Any]]:
    """``(json path, recorded value, sent value)`` for every place the two bodies differ."""
    if isinstance(recorded, dict) and isinstance(sent, dict):
        for key in [*recorded, *(k for k in sent if k not in recorded)]:
            yield from body_diff(recorded.get(key, _MISSING), sent.get(key, _MISSING), f"{path}.{key}")
    elif isinstance(recorded, list) and isinstance(sent, list):
        for index in range(max(len(recorded), len(sent))):
            yield from body_diff(
                recorded[index] if index < len(recorded) else _MISSING,
                sent[index] if index < len(sent) else _MISSING,
                f"{path}[{index}]",
            )
    elif recorded != sent or type(recorded) is not type(sent):
        yield path, recorded, sent


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _common_prefix(a: str, b: str) -> int:
    """The length of the common prefix of ``a`` and ``b`` (a binary search of slice compares)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _clip(text: str, limit: int = MAX_VALUE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text_diff(recorded: str, sent: str) -> str:
    """A compact word-level diff of two long strings: ``[-removed-]{+added+}``.

    Only the part between the common prefix and suffix is diffed (a body can hold megabytes: an
    inline image), and every piece shown is clipped to :data:`MAX_VALUE` characters.
    """
    start = _common_prefix(recorded, sent)
    start = recorded.rfind(" ", 0, start) + 1  # back to a word boundary
    end = _common_prefix(recorded[start:][::-1], sent[start:][::-1])
    a_mid, b_mid = recorded[start : len(recorded) - end], sent[start : len(sent) - end]
    a, b = a_mid[:MAX_DIFFED].split(" "), b_mid[:MAX_DIFFED].split(" ")
    out: list[str] = ["…"] if start else []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            same = a[i1:i2]
            out.append(
                _clip(" ".join(same)) if len(same) <= 6 else f"{' '.join(same[:3])} … {' '.join(same[-3:])}"
            )
        else:
            if i2 > i1:
                out.append(f"[-{_clip(' '.join(a[i1:i2]))}-]")
            if j2 > j1:
                out.append(f"{{+{_clip(' '.join(b[j1:j2]))}+}}")
    if end or len(a_mid) > MAX_DIFFED or len(b_mid) > MAX_DIFFED:
        out.append("…")
    return " ".join(out)


def render_diff(recorded: CanonicalRequest, sent: CanonicalRequest) -> list[str]:
    """Lines describing how ``sent`` differs from ``recorded``."""
    lines: list[str] = []
    if (recorded.method, recorded.endpoint, recorded.query) != (sent.method, sent.endpoint, sent.query):
        lines.append(
            f"    request: recorded {recorded.method} {recorded.endpoint}{list(recorded.query) or ''}"
        )
    diffs = list(body_diff(recorded.body, sent.body))
    for path, old, new in diffs[:MAX_DIFFS]:
        if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > MAX_VALUE:
            lines.append(f"    {path}: {_text_diff(old, new)}")
        else:
            lines.append(f"    {path}: recorded {_show(old)}, sent {_show(new)}")
    if len(diffs) > MAX_DIFFS:
        lines.append(f"    … and {len(diffs) - MAX_DIFFS} more differences")
    return lines


#: The reason :func:`miss_message` gives when a recording of the same canonical request exists.
_ALREADY_REPLAYED = re.compile(
    r"all \d+ recording\(s\) of this exact request were already replayed; "
    r"the test now sends it more times than when it was recorded"
)


def with_matchers_note(message: str, note: str) -> str:
    """A miss message under a ``match_on`` of the user's: ``note`` (which of its matchers the
    closest recording fails) goes before the advice, and replaces the reason "already replayed",
    which compares requests as the default matchers do."""
    lines = message.splitlines()
    lines[0] = _ALREADY_REPLAYED.sub("no recording passes the test's match_on", lines[0])
    at = next((i for i, line in enumerate(lines) if line.startswith("  to record it")), len(lines))
    return "\n".join([*lines[:at], note, *lines[at:]])


def tolerated_message(recorded: CanonicalRequest, sent: CanonicalRequest, source: str | None) -> str:
    """What tolerant matching let through for one replay: the request, the recording it replayed,
    and each difference of the two bodies (their ``match_form``) by JSON path, recorded vs sent::

        POST /v1/chat/completions replayed 3e85d726….json by tolerant matching:
            $.n: recorded (absent), sent 1
            $.user: recorded null, sent (absent)
    """
    name = os.path.basename(source) if source else "a recording"
    lines = [f"{sent.method} {sent.endpoint} replayed {name} by tolerant matching:"]
    diffs = list(body_diff(match_form(recorded.body), match_form(sent.body)))
    lines += [f"    {path}: recorded {_show(old)}, sent {_show(new)}" for path, old, new in diffs[:MAX_DIFFS]]
    if len(diffs) > MAX_DIFFS:
        lines.append(f"    … and {len(diffs) - MAX_DIFFS} more differences")
    return "\n".join(lines)


def miss_message(
    request: CanonicalRequest,
    recorded: Sequence[tuple[CanonicalRequest, str | None]],
    *,
    test_id: str | None,
    directory: Path,
    has_files: bool,
    extra_paths: Sequence[str],
    mode: str,
    redactor: Redactor = DEFAULT_REDACTOR,
) -> str:
    """Which test, which request, where we looked, the closest recording's diff, what to run.

    ``recorded`` holds the test's loaded and recorded requests with the file each came from; every
    secret ``redactor`` knows is masked in the message.
    """
    same = sum(
        1
        for r, _ in recorded
        if (r.endpoint, r.query, r.body_key) == (request.endpoint, request.query, request.body_key)
    )
    if same:
        why = (
            f"all {same} recording(s) of this exact request were already replayed; "
            "the test now sends it more times than when it was recorded"
        )
    elif has_files or recorded:
        on_endpoint = sum(1 for r, _ in recorded if r.endpoint == request.endpoint)
        why = f"none of the {len(recorded)} recording(s) match ({on_endpoint} on the same endpoint)"
    else:
        why = "this test has no recordings yet"
    query = "?" + "&".join(f"{k}={v}" for k, v in request.query) if request.query else ""
    lines = [
        f"llama-vcr: no recording matches {request.method} {request.endpoint}{query} "
        f"(record mode {mode!r}): {why}.",
        f"  test:     {test_id}",
        f"  request:  {request.method} {request.endpoint}{query}  model={request.model}",
        f"  searched: {directory}{os.sep}",
    ]
    lines += [f"  extra:    {extra}" for extra in extra_paths]
    near = closest(request, [r for r, _ in recorded]) if not same else None
    if near is not None:
        source = dict((id(r), s) for r, s in recorded).get(id(near))
        name = Path(source).name if source else "(recorded in this run)"
        lines.append(f"  closest recording: {name} ({near.method} {near.endpoint}  model={near.model})")
        lines += render_diff(near, request)
    advice = [
        "  to record it (needs the real API and key), run:",
        f"    {record_command(test_id, 'new_episodes' if has_files else 'once')}",
        "  or re-record the whole test with --record-mode=rewrite.",
    ]
    room = MAX_MESSAGE - sum(len(line) + 1 for line in advice) - 40
    shown: list[str] = []
    for line in lines:  # each line is short but for an over-long model name, test id or path
        line = _clip(line, max(room - 1, 0))
        if len(line) + 1 > room:
            shown.append("  … (message cut)")
            break
        shown.append(line)
        room -= len(line) + 1
    return redactor.mask("\n".join([*shown, *advice]))
