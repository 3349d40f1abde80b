"""The document's TypedDicts and the JSON Schema describe the same fields."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from llama_vcr.format.document import RecordedRequest, RecordedResponse, RecordingDocument

SCHEMA: dict[str, Any] = json.loads(
    resources.files("llama_vcr.format").joinpath("recording.schema.json").read_text()
)


@pytest.mark.parametrize(
    ("typed", "schema"),
    [
        (RecordingDocument, SCHEMA),
        (RecordedRequest, SCHEMA["properties"]["request"]),
        (RecordedResponse, SCHEMA["properties"]["response"]),
    ],
    ids=["document", "request", "response"],
)
def test_typed_dicts_match_the_schema(typed: Any, schema: dict[str, Any]) -> None:
    fields = typed.__required_keys__ | typed.__optional_keys__
    # (``response.body`` is described in the schema's if/then/else: a list for streams)
    assert set(schema["properties"]) | set(schema.get("required", ())) == fields, typed.__name__
    # a field the schema requires is required in the type too; ``response.body`` is required by
    # both (a recording without a body is a load error)
    assert set(schema.get("required", ())) == set(typed.__required_keys__), typed.__name__


def test_the_committed_example_recordings_are_documents() -> None:
    from conftest import ROOT

    files = sorted((ROOT / "cassettes").rglob("*.json"))
    assert files
    for path in files:
        document = json.loads(path.read_text())
        assert set(document) <= RecordingDocument.__required_keys__ | RecordingDocument.__optional_keys__
        assert RecordingDocument.__required_keys__ <= set(document)
