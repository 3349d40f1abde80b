"""The corpus tests take any llama-stack tree, and say so clearly when there is none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .corpus import ROOT, recordings, suite_of, trees


def test_trees_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLAMA_VCR_CORPUS", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    assert trees() == [tmp_path / "a", tmp_path / "b"]
    monkeypatch.delenv("LLAMA_VCR_CORPUS")
    assert [tree.name for tree in trees()] == ["llama-stack", "llama-stack-d1b663294"]


def test_recordings_are_found_without_counting_them_in_advance(tmp_path: Path) -> None:
    folder = tmp_path / "tree" / "inference" / "recordings"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps({"request": {}, "response": {}}), encoding="utf-8")
    (folder / "notes.json").write_text("[1, 2]", encoding="utf-8")
    (tmp_path / "tree" / "README.md").write_text("not a recording", encoding="utf-8")
    assert recordings([tmp_path / "tree", tmp_path / "missing"]) == [
        (tmp_path / "tree", "inference/recordings/a.json")
    ]
    assert suite_of("inference/recordings/a.json") == "inference"
    assert suite_of("later-d1b663294/messages/recordings/a.json") == "messages"


def test_without_a_corpus_the_replay_test_skips_with_a_clear_reason(tmp_path: Path) -> None:
    env = {**os.environ, "LLAMA_VCR_CORPUS": str(tmp_path / "missing")}
    argv = [sys.executable, "-m", "pytest", "tests/corpus/test_corpus_replay.py", "-rs", "-q", "-n0"]
    result = subprocess.run(
        [*argv, "-p", "no:cacheprovider"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert f"no llama-stack recordings found under {tmp_path / 'missing'}" in result.stdout
    assert "got empty parameter set" not in result.stdout
