"""The committed ``cassettes/`` conform: schema-valid, re-derivable names, no secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import EXAMPLE_API_KEY, ROOT
from llama_vcr import recording_name

FILES = sorted((ROOT / "cassettes").rglob("*.json"))


def test_the_examples_have_recordings() -> None:
    assert len(FILES) >= 7


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT / "cassettes")))
def test_committed_recording_conforms(path: Path, recording_schema: Any) -> None:
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    recording_schema.validate(document)
    assert recording_name(document) == path.name
    assert EXAMPLE_API_KEY not in text and "authorization" not in text.lower()
    test_file, _, test_name = document["test_id"].partition("::")
    assert path.parent == ROOT / "cassettes" / Path(test_file).with_suffix("") / test_name
