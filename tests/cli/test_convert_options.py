"""``llama-vcr convert`` options: ``--serializer`` (cassettes a project's own vcrpy serializer wrote)
and ``--no-normalize``, run as a user runs them (``python -m llama_vcr convert ...``).

The custom-serializer cassette is written by real vcrpy / pytest-recording (llama-vcr off), with
the serializer registered the way projects do it (``pytest_recording_configure``): YAML whose
JSON bodies are stored parsed, under keys of its own, as pydantic-ai's serializer does.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from llama_vcr import recording_files
from tests.cli.support import cli
from tests.fakes.server import FakeProviderServer
from tests.providers.support import record_with_vcrpy

SERIALIZER = '''
"""YAML with JSON bodies parsed (``parsed_body``), like pydantic-ai's json_body_serializer."""
import json

import yaml


class PrettyYAML:
    def serialize(self, cassette):
        for interaction in cassette["interactions"]:
            for part in ("request", "response"):
                data = interaction[part]
                body = data.pop("body")
                raw = body.get("string") if part == "response" else body
                if isinstance(raw, bytes):
                    raw = raw.decode()
                data["parsed_body"] = json.loads(raw) if raw else None
        return yaml.safe_dump(cassette, sort_keys=False)

    def deserialize(self, text):
        cassette = yaml.safe_load(text)
        for interaction in cassette["interactions"]:
            for part in ("request", "response"):
                data = interaction[part]
                parsed = data.pop("parsed_body")
                raw = None if parsed is None else json.dumps(parsed)
                data["body"] = {"string": raw} if part == "response" else raw
        return cassette
'''

CONFTEST = """
from myproject.serializers import PrettyYAML


def pytest_recording_configure(config, vcr):
    vcr.register_serializer("yaml", PrettyYAML())
"""

SUITE = """
import os
import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")


@pytest.mark.vcr
def test_chat():
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    replies = [
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": p}])
        for p in ("first", "second")
    ]
    assert [r.choices[0].message.content for r in replies] == ["Echo: first", "Echo: second"]
"""

CASSETTE = "cassettes/test_suite/test_chat.yaml"


def convert(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("convert", *args, cwd=cwd)


@pytest.fixture
def project(
    pytester: pytest.Pytester, provider_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A suite whose cassette its own serializer wrote (recorded by vcrpy alone)."""
    pytester.makeini("[pytest]\n")
    (pytester.path / "myproject").mkdir()
    (pytester.path / "myproject" / "__init__.py").write_text("")
    (pytester.path / "myproject" / "serializers.py").write_text(SERIALIZER)
    pytester.makeconftest(CONFTEST)
    record_with_vcrpy(pytester, provider_server, monkeypatch, test_suite=SUITE)
    return pytester


def test_a_cassette_of_a_custom_serializer_converts_through_it(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    text = (project.path / CASSETTE).read_text()
    assert "parsed_body:" in text and "string:" not in text  # not what vcrpy's YAML serializer reads

    refused = convert(project.path, CASSETTE, "cassettes")
    assert refused.returncode == 2 and "not a vcrpy cassette" in refused.stderr

    done = convert(project.path, CASSETTE, "cassettes", "--serializer", "myproject.serializers:PrettyYAML")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "wrote 2 recording(s), 0 unchanged"
    files = recording_files(project.path / "cassettes" / "test_suite" / "test_chat")
    documents = {json.loads(p.read_text())["position"]: json.loads(p.read_text()) for p in files}
    assert [documents[n]["request"]["body"]["messages"][0]["content"] for n in (1, 2)] == ["first", "second"]

    (project.path / CASSETTE).unlink()
    project.runpytest("-p", "no:cacheprovider", "--record-mode=none").assert_outcomes(passed=1)
    assert not provider_server.hits

    again = convert(  # a directory: its cassettes through the serializer, the rest as before
        project.path, "cassettes", "out", "--serializer", "myproject.serializers:PrettyYAML"
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(recording_files(project.path / "out" / "test_suite" / "test_chat")) == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_here", "--serializer no_such_module_here: cannot load it (ModuleNotFoundError"),
        ("myproject.serializers:Missing", "--serializer myproject.serializers:Missing: cannot load it ("),
        ("json", "--serializer json: has no deserialize(text) method"),
    ],
)
def test_a_serializer_that_cannot_be_loaded_is_a_usage_error(
    project: pytest.Pytester, spec: str, message: str
) -> None:
    done = convert(project.path, CASSETTE, "cassettes", "--serializer", spec)
    assert done.returncode == 2 and f"llama-vcr: {message}" in done.stderr, done.stderr
    assert not (project.path / "cassettes" / "test_suite" / "test_chat").exists()


def test_no_normalize_keeps_every_recorded_value(project: pytest.Pytester) -> None:
    cassette = (project.path / CASSETTE).read_text()
    done = convert(
        project.path, CASSETTE, "cassettes", "--serializer", "myproject.serializers", "--no-normalize"
    )
    assert done.returncode == 2 and "has no deserialize" in done.stderr  # (the module has the class)
    done = convert(
        project.path,
        CASSETTE,
        "cassettes",
        "--serializer",
        "myproject.serializers:PrettyYAML",
        "--no-normalize",
    )
    assert done.returncode == 0, done.stderr
    for path in recording_files(project.path / "cassettes" / "test_suite" / "test_chat"):
        document = json.loads(path.read_text())
        data = document["response"]["body"]["__data__"]
        assert data["id"].startswith("chatcmpl-") and data["id"] in cassette
        assert data["created"] > 0 and str(data["created"]) in cassette
        request_id = document["response"]["headers"]["x-request-id"]
        assert not request_id.startswith("req_rec-") and request_id in cassette


def test_the_serializer_is_imported_from_the_directory_and_nothing_else_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The working directory is searched for the named module only: a decoder a cassette's
    Content-Encoding makes convert import later never comes from it."""
    import sys

    from llama_vcr.cli.convert import load_serializer

    (tmp_path / "my_serializer_mod.py").write_text("def deserialize(text):\n    return {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert callable(load_serializer("my_serializer_mod").deserialize)
    assert str(tmp_path) not in sys.path
