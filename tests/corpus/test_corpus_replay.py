"""Every llama-stack recording of the corpus trees replays through its real SDK, or is skipped by design.

The trees are ``LLAMA_VCR_CORPUS`` (paths joined by ``os.pathsep``), default both shared folders
(``tests/corpus/corpus.py``). One test per file: a replayed file passes, a record that is no HTTP
exchange is skipped with its reason, a failed file fails. ``pytest tests/corpus -n0 -s -k table``
prints the outcome table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .corpus import FAILED, SKIPPED, Outcome, recordings, replay, table, trees

TREES = trees()
FILES = recordings(TREES)
#: Outcomes computed in this process (the table reuses the per-file tests' work).
_OUTCOMES: dict[str, Outcome] = {}


def _params() -> list[Any]:
    if not FILES:
        shown = ", ".join(str(tree) for tree in TREES)
        reason = f"no llama-stack recordings found under {shown} (set LLAMA_VCR_CORPUS to a recordings tree)"
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=reason), id="no-corpus")]
    return [pytest.param(root, rel, id=f"{root.name}/{rel}") for root, rel in FILES]


@pytest.mark.parametrize(("root", "rel"), _params())
def test_recording_replays_through_its_sdk(root: Path, rel: str, tmp_path: Path) -> None:
    outcome = _OUTCOMES[f"{root.name}/{rel}"] = replay(root / rel, rel, tmp_path)
    if outcome.kind == SKIPPED:
        pytest.skip(f"by design: {outcome.detail}")
    assert outcome.kind != FAILED, outcome.detail


def test_outcome_table(tmp_path_factory: pytest.TempPathFactory) -> None:
    if not FILES:
        pytest.skip("no llama-stack recordings found (set LLAMA_VCR_CORPUS to a recordings tree)")
    outcomes: dict[str, Outcome] = {}
    for root, rel in FILES:
        key = f"{root.name}/{rel}"
        if key not in _OUTCOMES:
            _OUTCOMES[key] = replay(root / rel, rel, tmp_path_factory.mktemp("replay"))
        outcomes[key] = _OUTCOMES[key]
    print("\n" + "\n".join(table(outcomes)))
    assert not [rel for rel, outcome in outcomes.items() if outcome.kind == FAILED]
