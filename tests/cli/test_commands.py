"""The ``llama-vcr`` command line, run for real: in-process through ``main``, and as a program.

The committed ``cassettes/`` are only read; anything that gets changed is a copy in ``tmp_path``.
The llama-stack corpus is read in place (copies of a few files go to ``tmp_path``).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest
import vcr
from vcr.request import Request

from conftest import OFFLINE_BASE_URL, ROOT
from llama_vcr import CODEC, recording_files, recording_name
from llama_vcr._vcrpy import configure_vcr
from llama_vcr.cli import main
from llama_vcr.cli._common import cassette_name, directory_for_test
from llama_vcr.cli.convert import derive_test_id
from tests.fakes.server import FakeProviderServer

CASSETTES = ROOT / "cassettes"
EXAMPLES = CASSETTES / "tests" / "examples" / "test_quickstart"
STREAM_DIR = EXAMPLES / "test_streaming_chat_completion"
TOOL_DIR = EXAMPLES / "test_tool_call_round_trip"
#: Corpus files whose names do not re-derive by any llama-stack recipe (MANIFEST: "does-not-verify").
CORPUS_NAME_MISMATCHES = {
    "responses/recordings/1b0c005eb4b93c22ec7211904cab5145194ec832d8e436fee11599c1c2d80fd8.json",
    "responses/recordings/5f2e2b5811d2885666b5bb6cf7e2408e768322c2035b93c3708373848a6c9d21.json",
    "tool_runtime/recordings/8fe0bae4f48fd0cb44bed2f2994798c0ba3c2772c73c398802b919bbf60d2848.json",
}


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def problem_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if ": note: " not in line]


@pytest.fixture
def cassettes_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(CASSETTES, tmp_path / "cassettes"))


def _only(directory: Path) -> Path:
    [path] = recording_files(directory)
    return path


def _doc(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


# --- verify ------------------------------------------------------------------------------------------


def test_verify_is_clean_on_the_committed_cassettes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "verify", CASSETTES)
    count = len(list(CASSETTES.rglob("*.json")))
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"{count} recording(s) verified: no problems"]


def test_verify_reports_each_tampering_on_its_own_line(
    capsys: pytest.CaptureFixture[str], cassettes_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = cassettes_copy / "tests" / "examples" / "test_quickstart"
    renamed = _only(examples / "test_chat_completion")
    renamed = renamed.rename(renamed.with_name("0" * 64 + ".json"))
    leaky = _only(examples / "test_streaming_chat_completion")
    document = _doc(leaky)
    document["request"]["headers"]["authorization"] = "Bearer sk-proj-leaked0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", "env-secret-value-42")
    document["response"]["body"][0]["__data__"]["system_fingerprint"] = "env-secret-value-42"
    _write(leaky, document)
    unknown = _only(examples / "test_async_streaming")
    document = _doc(unknown)
    document["response"]["body"][1]["__type__"] = "openai.types.nope.Nope"
    _write(unknown, document)
    broken = sorted((examples / "test_embeddings_and_models").glob("*.json"))[0]
    broken.write_text('{"test_id": "x", "request": {', encoding="utf-8")

    code, out, err = run(capsys, "verify", cassettes_copy)

    assert code == 1
    lines = problem_lines(out)
    assert all(line.startswith(str(cassettes_copy)) for line in lines)
    assert f"{renamed}: name does not match content (content derives " in out
    assert f"{leaky}: secret: request header 'authorization' is stored" in lines
    assert any(line.startswith(f"{leaky}: secret: line ") and "API key (sk-pro…)" in line for line in lines)
    assert any(line.startswith(f"{leaky}: secret: line ") and "bearer token" in line for line in lines)
    assert f"{leaky}: secret: contains the value of $OPENAI_API_KEY" in lines
    nope = "unknown __type__ 'openai.types.nope.Nope': openai is installed but has no such class"
    assert f"{unknown}: {nope}" in lines
    assert any(line.startswith(f"{broken}: unreadable: ") for line in lines)
    assert "sk-proj-leaked0123456789abcdef" not in out  # secrets are masked in the report
    assert len(lines) == 7
    assert err.startswith("llama-vcr: 7 problem(s) in 4 of ")

    code, out, _ = run(capsys, "verify", "--json", cassettes_copy)
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert report["counts"] == {"name": 1, "revive": 1, "secret": 4, "unreadable": 1}
    assert {p["path"] for p in report["problems"]} == {str(p) for p in (renamed, leaky, unknown, broken)}


def test_verify_takes_single_files_and_extra_secret_variables(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "one.json"
    document = _doc(recording_files(TOOL_DIR)[0])
    document["response"]["body"]["__data__"]["model"] = "tenant-token-abcdefgh"
    path.write_text(json.dumps(document), encoding="utf-8")
    monkeypatch.setenv("MY_TENANT", "tenant-token-abcdefgh")
    code, out, _ = run(capsys, "verify", path)
    assert code == 1 and out.splitlines() == [
        f"{path}: not a recording name (content derives {recording_name(document)})"
    ]
    code, out, _ = run(capsys, "verify", "--secret-env", "MY_TENANT", path)
    assert f"{path}: secret: contains the value of $MY_TENANT" in out.splitlines()


@pytest.mark.parametrize("name", ["set-cookie", "x-session-token", "x-amz-security-token", "x-api-key-echo"])
def test_verify_flags_every_response_header_recording_would_never_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    """One policy: a response header the recorder drops as secret is a problem in a file too."""
    path = tmp_path / "one.json"
    document = _doc(recording_files(TOOL_DIR)[0])
    path.write_text(json.dumps(document), encoding="utf-8")
    assert "secret" not in run(capsys, "verify", path)[1]  # (llama-vcr's own kept headers are fine)
    document["response"]["headers"][name] = "abc"
    path.write_text(json.dumps(document), encoding="utf-8")
    code, out, _ = run(capsys, "verify", path)
    assert code == 1 and f"{path}: secret: response header {name!r} is stored" in out.splitlines()


def test_verify_on_the_llama_stack_corpus(capsys: pytest.CaptureFixture[str], corpus_dir: Path) -> None:
    code, out, _ = run(capsys, "verify", "--json", corpus_dir)
    report = json.loads(out)
    assert code == 1 and report["recordings"] == 50
    counts = report["counts"]
    assert counts["legacy-name"] == 16  # every 12-hex name re-derives with llama-stack's old hash
    assert "schema" not in counts  # llama-stack's layouts are checked as llama-vcr reads them
    assert counts["not-replayable"] == 3  # two tool_invoke records, one google-genai call: notes
    assert "name-unchecked" not in counts  # the raw-HTTP ("payload") records re-hash too
    assert "secret" not in counts and "unreadable" not in counts
    mismatched = {
        Path(p["path"]).relative_to(corpus_dir).as_posix() for p in report["problems"] if p["kind"] == "name"
    }
    assert mismatched == CORPUS_NAME_MISMATCHES
    assert "revive" not in counts  # every importable __type__ revives
    missing = {n["message"] for n in report["notes"] if n["kind"] == "type-not-installed"}
    tool_result = "'llama_stack.apis.tools.tools.ToolInvocationResult': llama_stack is not installed here"
    assert f"cannot import __type__ {tool_result}" in missing  # an optional SDK: a note


def test_verify_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "verify", tmp_path / "missing")
    assert (code, out) == (2, "") and err == f"llama-vcr: no such file or directory: {tmp_path / 'missing'}\n"
    code, out, err = run(capsys, "verify", tmp_path)  # an empty directory has nothing wrong with it
    assert code == 0 and out == "0 recording(s) verified: no problems\n"


# --- ls ----------------------------------------------------------------------------------------------


def test_ls_lists_each_test_and_its_recordings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "ls", CASSETTES)
    assert (code, err) == (0, "")
    header, *body, footer = out.splitlines()
    assert header.split() == ["TEST", "/", "FILE", "ENDPOINT", "MODEL", "STREAM", "CHUNKS", "SIZE", "AGE"]
    rows = [line for line in body if line.startswith("  ")]
    tests = [line for line in body if not line.startswith("  ")]
    files = list(CASSETTES.rglob("*.json"))
    assert len(rows) == len(files) and footer.startswith(f"{len(files)} recordings, {len(tests)} tests, ")
    assert "tests/examples/test_quickstart.py::test_streaming_chat_completion" in tests
    columns = {line.index("POST ") if "POST " in line else line.index("GET ") for line in rows}
    assert columns == {header.index("ENDPOINT")}  # aligned
    stream_row = next(r for r in rows if r.strip().startswith(_only(STREAM_DIR).name[:12]))
    chunks = len(_doc(_only(STREAM_DIR))["response"]["body"])
    assert stream_row.split()[4:6] == ["yes", str(chunks)]
    assert "\033[" not in out  # not a terminal: no colour


def test_ls_json_and_ages(capsys: pytest.CaptureFixture[str], cassettes_copy: Path) -> None:
    old = _only(cassettes_copy / STREAM_DIR.relative_to(CASSETTES))
    document = _doc(old)
    document["recorded_at"] = "2020-01-02"
    _write(old, document)
    aged = _only(cassettes_copy / "tests/examples/test_quickstart/test_chat_completion")
    undated = _doc(aged)
    undated.pop("recorded_at", None)  # a file without recorded_at falls back to its mtime
    _write(aged, undated)
    three_days_ago = time.time() - 3 * 86400 - 60
    os.utime(aged, (three_days_ago, three_days_ago))

    code, out, _ = run(capsys, "ls", "--json", cassettes_copy)
    entries = {Path(e["path"]).name: e for e in json.loads(out)}
    assert code == 0 and len(entries) == len(list(cassettes_copy.rglob("*.json")))
    streamed = entries[old.name]
    assert streamed["streaming"] is True and streamed["chunks"] == len(document["response"]["body"])
    assert streamed["test_id"] == document["test_id"] and streamed["endpoint"] == "/v1/chat/completions"
    assert streamed["recorded_from"] == "recorded_at" and streamed["model"] == "gpt-4o-mini"
    assert entries[aged.name]["recorded_from"] == "mtime" and entries[aged.name]["chunks"] is None

    code, out, _ = run(capsys, "ls", cassettes_copy)
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ")}
    assert rows[old.name[:12] + "…"][-1].endswith("y")
    assert rows[aged.name[:12] + "…"][-1] == "3d"


def test_ls_reports_unreadable_files_and_missing_dirs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "bad.json").write_text("[]", encoding="utf-8")
    code, out, err = run(capsys, "ls", tmp_path)
    assert code == 1 and "no recordings under" in out
    assert err.startswith(f"llama-vcr: {tmp_path / 't' / 'bad.json'}: cannot read: not a recording")
    code, _, err = run(capsys, "ls", tmp_path / "nope")
    assert code == 2 and err == f"llama-vcr: no such directory: {tmp_path / 'nope'}\n"


# --- show --------------------------------------------------------------------------------------------


def test_show_assembles_a_stream(capsys: pytest.CaptureFixture[str]) -> None:
    path = _only(STREAM_DIR)
    chunks = [c["__data__"] for c in _doc(path)["response"]["body"]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) > 1

    code, out, err = run(capsys, "show", path)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(
        f"POST /v1/chat/completions  model=gpt-4o-mini  (streamed, {len(chunks)} chunks"
    )
    assert "user: Name a planet with rings" in lines
    assert f"reply (assistant): {text}" in lines
    assert "finish: stop" in lines and any(line.startswith("usage: prompt ") for line in lines)

    code, out, _ = run(capsys, "show", "--json", path)
    data = json.loads(out)
    assert data["reply"]["text"] == text and data["streaming"] is True and data["chunks"] == len(chunks)
    assert data["messages"] == [{"role": "user", "content": "Name a planet with rings"}]
    usage = next(c["usage"] for c in chunks if c.get("usage"))
    assert data["usage"] == {k: usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}


def test_show_tool_calls_in_the_request_and_the_reply(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = [run(capsys, "show", path)[1] for path in recording_files(TOOL_DIR)]
    both = "\n".join(outputs)
    assert 'reply (assistant): → get_weather({"city": "Paris"})' in both
    assert 'assistant: → get_weather({"city": "Paris"})' in both  # the call, sent back in the 2nd request
    assert "finish: tool_calls" in both
    assert any(line.startswith("tool [") and line.endswith("]: 18C and sunny") for line in both.splitlines())


def test_show_errors_and_the_corpus_shapes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, corpus_dir: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    code, out, err = run(capsys, "show", broken)
    assert code == 2 and out == "" and err.startswith(f"llama-vcr: cannot read {broken}: ")
    assert run(capsys, "show", tmp_path / "none.json")[0] == 2
    exception = next((corpus_dir / "later-d1b663294" / "inference" / "recordings").glob("*.json"))
    code, out, _ = run(capsys, "show", exception)
    assert code == 0 and "(not streamed, status 400)" in out and "error (status 400): Error code: 400" in out
    for path in sorted(corpus_dir.rglob("*.json")):  # every real recording has a transcript
        code, out, _ = run(capsys, "show", "--json", path)
        assert code == 0 and json.loads(out)["file"] == str(path)


# --- prune -------------------------------------------------------------------------------------------

PROJECT_TESTS = """
import pytest


def test_kept():
    pass


@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    pass


class TestGroup:
    def test_method(self):
        pass
"""


def _recording(directory: Path, test_id: str | None, prompt: str = "hi") -> Path:
    request = Request(
        "POST",
        "http://127.0.0.1:9/v1/chat/completions",
        json.dumps({"model": "m", "messages": [{"role": "user", "content": prompt}]}).encode(),
        {"content-type": "application/json"},
    )
    response = {
        "status": {"code": 200},
        "headers": {"content-type": ["application/json"]},
        "body": {"string": b"{}"},
    }
    document = CODEC.encode(request, response, test_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / recording_name(document)
    path.write_text(CODEC.serialize(document), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny pytest project: an ini file, one test module, and recordings of live and gone tests."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # collection only needs pytest itself
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -q\n", encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_mod.py").write_text(PROJECT_TESTS, encoding="utf-8")
    optional = 'import pytest\n\npytest.importorskip("not_installed_here")\n\n\ndef test_s():\n    pass\n'
    (tmp_path / "tests" / "test_optional.py").write_text(optional, encoding="utf-8")
    return tmp_path


def test_prune_lists_then_deletes_recordings_of_tests_that_are_gone(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    module = project / "cassettes" / "tests" / "test_mod"
    kept = [
        _recording(module / "test_kept", "tests/test_mod.py::test_kept"),
        _recording(module / "test_param[1]", "tests/test_mod.py::test_param[1]"),
        _recording(module / "TestGroup.test_method", None),  # no test id: kept by its directory
        # a module skipped while collecting (an optional dependency missing here): not an orphan
        _recording(
            project / "cassettes" / "tests" / "test_optional" / "test_s", "tests/test_optional.py::test_s"
        ),
    ]
    orphans = [
        _recording(project / "cassettes" / "tests" / "test_gone" / "test_x", "tests/test_gone.py::test_x"),
        _recording(module / "test_param[3]", "tests/test_mod.py::test_param[3]"),  # the parameter is gone
    ]
    broken = project / "cassettes" / "tests" / "test_gone" / "test_y" / "broken.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("not json", encoding="utf-8")

    code, out, _ = run(capsys, "prune", project / "cassettes", "--rootdir", project)
    assert code == 1
    assert [line for line in out.splitlines() if line.startswith("would delete")] == [
        f"would delete {orphans[0]}  (tests/test_gone.py::test_x)",
        f"would delete {orphans[1]}  (tests/test_mod.py::test_param[3])",
    ]
    assert f"{broken}: not a readable recording, left alone: " in out
    assert "kept 1 recording(s) of modules pytest skipped while collecting: tests/test_optional.py" in out
    assert "2 recording(s) of tests pytest no longer collects (4 tests collected)" in out
    assert all(path.exists() for path in [*kept, *orphans, broken])

    code, out, _ = run(capsys, "prune", "--json", "--yes", project / "cassettes", "--rootdir", project)
    report = json.loads(out)
    assert code == 1  # the unreadable file is still a problem
    assert report["collected"] == 4 and report["deleted"] is True
    assert [o["path"] for o in report["orphans"]] == [str(p) for p in orphans]
    assert report["unreadable"][0]["path"] == str(broken)
    assert set(report["removed_directories"]) == {str(orphans[0].parent), str(orphans[1].parent)}
    assert all(path.exists() for path in [*kept, broken]) and not any(path.exists() for path in orphans)

    broken.unlink()
    code, out, _ = run(capsys, "prune", "--yes", project / "cassettes", "--rootdir", project)
    assert code == 0 and f"removed empty directory {broken.parent}" in out
    assert not (project / "cassettes" / "tests" / "test_gone").exists()


def test_prune_refuses_when_collection_fails(capsys: pytest.CaptureFixture[str], project: Path) -> None:
    orphan = _recording(project / "cassettes" / "tests" / "test_old" / "test_x", "tests/test_old.py::test_x")
    (project / "tests" / "test_broken.py").write_text("def test_(:\n", encoding="utf-8")
    code, out, err = run(capsys, "prune", "--yes", project / "cassettes", "--rootdir", project)
    assert code == 2 and out == "" and orphan.exists()
    assert err.startswith(f"llama-vcr: pytest could not collect the tests in {project} (exit 2); not pruning")


# --- convert -----------------------------------------------------------------------------------------


def _record_vcrpy_cassettes(root: Path) -> Path:
    """Plain vcrpy cassettes (YAML and JSON), recorded from the local server with the OpenAI SDK."""
    cassette = root / "tests" / "cassettes" / "test_chat" / "TestChat.test_twice[a].yaml"
    with FakeProviderServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-convert-secret-0123456789abcdef")
        for serializer, path in (("yaml", cassette), ("json", root / "other" / "test_json.json")):
            with vcr.VCR(record_mode="once", serializer=serializer).use_cassette(str(path)):
                for _ in range(2):
                    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
                stream = client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "stream"}], stream=True
                )
                assert (
                    "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Echo: stream"
                )
    assert "sk-convert-secret" in cassette.read_text()  # vcrpy itself keeps the key
    return cassette


def test_convert_a_vcrpy_cassette_into_replayable_recordings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cassette = _record_vcrpy_cassettes(tmp_path).relative_to(tmp_path)
    test_id = "tests/test_chat.py::TestChat::test_twice[a]"
    target = Path("cassettes") / "tests" / "test_chat" / "TestChat.test_twice[a]"

    code, out, _ = run(capsys, "convert", cassette, "cassettes", "--dry-run")
    assert code == 0 and out.count("would write ") == 4 and not Path("cassettes").exists()
    code, out, _ = run(capsys, "convert", cassette, "cassettes")
    assert code == 0 and out.splitlines()[-1] == "wrote 3 recording(s), 0 unchanged"
    files = recording_files(target)
    documents = [_doc(path) for path in files]
    [second] = [path for path in files if path.name.endswith("-2.json")]
    assert [d.get("occurrence") for d in documents].count(2) == 1 and _doc(second)["occurrence"] == 2
    assert {d["test_id"] for d in documents} == {test_id}
    assert [recording_name(d) for d in documents] == [p.name for p in files]
    assert not any("sk-convert-secret" in path.read_text() for path in files)
    assert run(capsys, "verify", "cassettes")[0] == 0

    recorder = vcr.VCR(record_mode="none")  # the converted files replay through llama-vcr, offline
    configure_vcr(recorder, CODEC, test_id)
    with recorder.use_cassette(str(target)):
        client = openai.OpenAI(base_url=OFFLINE_BASE_URL, api_key="sk-none", max_retries=0)
        replies = [client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])]
        replies.append(
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        )
        stream = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "stream"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Echo: stream"
    assert [r.choices[0].message.content for r in replies] == ["Echo: hi", "Echo: hi"]

    assert (
        run(capsys, "convert", cassette, "cassettes")[1].splitlines()[-1]
        == "wrote 0 recording(s), 3 unchanged"
    )
    files[0].write_text(files[0].read_text() + "\n", encoding="utf-8")  # edited by hand
    code, out, _ = run(capsys, "convert", cassette, "cassettes")
    assert code == 1 and f"{files[0]}: exists with different content; skipped" in out
    assert files[0].read_text().endswith("\n\n")  # left as it was

    code, out, _ = run(
        capsys, "convert", "--json", "other/test_json.json", "cassettes", "--test-id", "t.py::test_j"
    )
    written = json.loads(out)["written"]
    assert code == 0 and len(written) == 3
    assert all(Path(w["path"]).parent == Path("cassettes/t/test_j") for w in written)

    monkeypatch.setenv("TENANT_VALUE", "Echo: hi")  # scrubbed before writing, as the persister does
    code, out, err = run(capsys, "convert", cassette, "scrubbed", "--secret-env", "TENANT_VALUE")
    assert code == 0 and err.count("the value of $TENANT_VALUE was replaced by REDACTED\n") == 2
    assert not any("Echo: hi" in path.read_text() for path in Path("scrubbed").rglob("*.json"))
    assert run(capsys, "verify", "--secret-env", "TENANT_VALUE", "scrubbed")[0] == 0
    assert run(capsys, "verify", "--secret-env", "TENANT_VALUE", "cassettes")[0] == 1

    code, out, _ = run(capsys, "verify", "other")  # a plain vcrpy cassette is only scanned for secrets
    assert code == 1 and "other/test_json.json: note: a plain vcrpy cassette, not checked" in out
    assert "other/test_json.json: secret: line " in out  # vcrpy kept the Authorization header


def test_convert_a_llama_stack_recordings_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, corpus_dir: Path
) -> None:
    flat = tmp_path / "recordings"
    flat.mkdir()
    chosen = [
        "inference/recordings/c03bc36fc4c19495050b64122ffa310f812e2ab2aa32f5e01ad0ac9b7ae046e2.json",
        "inference/recordings/a1e4350b0157d85e74c9f661b2d0510434212d7f36fbc1eddacdaf5a62520dd3.json",
        "common/recordings/models-64a2277c90f0f42576f60c1030e3a020403d34a95f56931b792d5939f4cebc57-e660ee4a.json",
        "recordings/responses/0648374e43e7.json",
    ]
    for name in chosen:
        shutil.copy2(corpus_dir / name, flat)
    (flat / "notes.json").write_text('{"not": "a recording"}', encoding="utf-8")
    dest = tmp_path / "cassettes"

    code, out, _ = run(capsys, "convert", flat, dest, "--dry-run")
    assert code == 1 and not dest.exists()  # notes.json is reported and skipped
    assert f"{flat / 'notes.json'}: skipped: " in out
    code, out, _ = run(capsys, "convert", "--json", flat, dest)
    report = json.loads(out)
    assert code == 1 and len(report["written"]) == 4 and len(report["skipped"]) == 1
    for name in chosen:
        source = corpus_dir / name
        test_id = _doc(source).get("test_id")
        folder = dest / directory_for_test(test_id) if test_id else dest / "_session"
        assert (folder / source.name).read_bytes() == source.read_bytes()
        assert (folder / source.name).stat().st_mtime == pytest.approx((flat / source.name).stat().st_mtime)
    assert (dest / "tests/integration/inference/test_tools_with_schemas").is_dir()
    assert any("[txt=ollama-llama3.2-3b-instruct-fp16]" in p.name for p in dest.rglob("TestEdgeCases.*"))


@pytest.mark.parametrize(
    ("test_id", "directory"),
    [
        ("tests/test_a.py::test_x", "tests/test_a/test_x"),
        ("tests/test_a.py::TestK::test_x[1-a]", "tests/test_a/TestK.test_x[1-a]"),
        ("t.py::test_x[txt=ollama/llama3.2:3b]", "t/test_x[txt=ollama-llama3.2-3b]"),
        ("t.py::test_x[a::b]", "t/test_x[a--b]"),
    ],
)
def test_test_directory_follows_pytest_recording(test_id: str, directory: str) -> None:
    assert directory_for_test(test_id, legacy=True).as_posix() == directory
    assert cassette_name(test_id, legacy=True) == directory.rsplit("/", 1)[1]
    # a name sanitising changed gets a short hash of the test, so two tests never share it
    sanitised = cassette_name(test_id, legacy=True) != test_id.partition("::")[2].replace("::", ".")
    new = directory_for_test(test_id).as_posix()
    assert new == directory if not sanitised else re.fullmatch(re.escape(directory) + "-[0-9a-f]{8}", new)


def test_derive_test_id_from_a_cassette_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        derive_test_id(Path("tests/cassettes/test_m/TestK.test_x[1.5].yaml"))
        == "tests/test_m.py::TestK::test_x[1.5]"
    )
    assert derive_test_id(Path("tests/test_m/test_x.yaml")) == "tests/test_m.py::test_x"
    assert derive_test_id(Path("/elsewhere/tests/cassettes/test_m/test_x.yaml")) == "tests/test_m.py::test_x"


# --- the program -------------------------------------------------------------------------------------


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys)[0] == 2
    code, _, err = run(capsys, "convert", tmp_path, tmp_path / "out", "--test-id", "x")
    assert code == 2 and err == "llama-vcr: --test-id applies to a single cassette file, not a directory\n"
    (tmp_path / "c.yaml").write_text("interactions: []\n", encoding="utf-8")
    code, _, err = run(capsys, "convert", tmp_path / "c.yaml", tmp_path / "out", "--test-id", "no-module")
    assert code == 2 and err.startswith("llama-vcr: --test-id: not a pytest node id")
    assert run(capsys, "--version")[1].startswith("llama-vcr ")


def test_colour_only_on_a_terminal_without_no_color(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for no_color, coloured in (("", True), ("1", False)):
        monkeypatch.setenv("NO_COLOR", no_color)
        terminal = Terminal()
        monkeypatch.setattr(sys, "stdout", terminal)
        assert main(["verify", str(CASSETTES)]) == 0
        assert ("\033[32m" in terminal.getvalue()) is coloured


def test_the_console_script_and_python_m(tmp_path: Path) -> None:
    script = shutil.which("llama-vcr", path=str(Path(sys.executable).parent))
    assert script is not None, "the llama-vcr console script is not installed next to this Python"
    env = {**os.environ, "NO_COLOR": ""}
    result = subprocess.run(
        [script, "verify", str(CASSETTES)], capture_output=True, text=True, env=env, check=False
    )
    assert (
        result.returncode == 0
        and result.stdout.endswith("verified: no problems\n")
        and "\033" not in result.stdout
    )
    result = subprocess.run(
        [sys.executable, "-m", "llama_vcr", "ls", "--json", str(CASSETTES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and len(json.loads(result.stdout)) == len(list(CASSETTES.rglob("*.json")))
    result = subprocess.run(
        [script, "show", str(tmp_path / "x.json")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and result.stderr == f"llama-vcr: no such file: {tmp_path / 'x.json'}\n"
