"""``verify`` and ``convert`` on llama-stack recordings trees.

``verify`` knows llama-stack's naming recipes (``llama_vcr.format.llama_stack_names``); the names
below are computed here from the recorder's rules as llama-stack's ``api_recorder.py`` states them,
with the normalised bodies written out by hand. ``convert`` takes a whole tree: long test names,
a bad file, records that are no HTTP exchange.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from llama_vcr.cli import main
from tests.corpus.corpus import recordings, trees

TEST_ID = "tests/integration/responses/test_x.py::test_y[txt=openai/gpt-4o]"
UUID = "d2a1bbec-927a-46d4-a3e8-118d8c540a09"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def sha(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def record(
    url: str, body: Any, test_id: str | None = TEST_ID, endpoint: str = "/v1/chat/completions"
) -> dict[str, Any]:
    request = {"method": "POST", "url": url, "headers": {}, "body": body, "endpoint": endpoint, "model": "m",
               "provider_metadata": {"openai_sdk_version": "2.5.0"}}  # fmt: skip
    chunk = {"__type__": "openai.types.chat.chat_completion.ChatCompletion", "__data__": {"id": "rec-1"}}
    return {"test_id": test_id, "request": request, "response": {"body": chunk, "is_streaming": False}}


def named(folder: Path, name: str, document: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def llama_stack_tree(root: Path) -> dict[str, str]:
    """One file per naming recipe, each named as llama-stack named it; returns {name: recipe}."""
    url = "https://api.openai.com/v1/v1/chat/completions"
    path = "/v1/v1/chat/completions"
    names: dict[str, str] = {}

    def add(
        document: dict[str, Any], key: dict[str, Any], recipe: str, prefix: str = "", suffix: str = ""
    ) -> None:
        name = f"{prefix}{sha(key)}{suffix}.json"
        named(root / "recordings", name, document)
        names[name] = recipe

    body = {"temperature": 0.123456789, "messages": [{"role": "tool", "content": "score 0.987654321"}]}
    hashed = {"temperature": 0.12346, "messages": [{"role": "tool", "content": "score 0.98765"}]}
    add(
        record(url, body),
        {"method": "POST", "endpoint": path, "body": hashed, "test_id": TEST_ID},
        "documented",
    )
    bedrock = "https://bedrock-mantle.us-east-2.api.aws/v1/v1/chat/completions"
    body = {"model": "m", "stream": True, "stream_options": {"include_usage": True}}
    key = {"method": "POST", "endpoint": path, "body": {"model": "m", "stream": True}, "test_id": None}
    add(record(bedrock, body, None), key, "bedrock")
    watsonx = "https://us-south.ml.cloud.ibm.com/ml/v1/v1/chat/completions"
    body = {"model": "m", "extra_body": {"project_id": "p-1", "x": 1}}
    key = {
        "method": "POST",
        "endpoint": "/ml/v1/v1/chat/completions",
        "body": {"model": "m", "extra_body": {"x": 1}},
    }
    add(record(watsonx, body), key | {"test_id": TEST_ID}, "project_id")
    found = (
        f"[1] document_id: {UUID}, score: 0.0027636347565866783, attributes: {{'a': 1.0}} cite as <|{UUID}|>"
    )
    hashed_text = "[1] document_id: __NORMALIZED__, score: __NORMALIZED__ cite as <|__NORMALIZED__|>"
    body = {"messages": [{"role": "tool", "content": [{"type": "text", "text": found}]}]}
    key = {"method": "POST", "endpoint": path, "body": {"messages": [{"role": "tool", "content": [
        {"type": "text", "text": hashed_text}]}]}, "test_id": TEST_ID}  # fmt: skip
    add(record(url, body), key, "file_search")
    models = record("http://localhost:8080/v1/models", {}, "tests/t.py::test_m", "/v1/models")
    models["response"]["body"] = [{"__type__": "openai.types.model.Model", "__data__": {"id": "qwen2.5"}}]
    digest8 = hashlib.sha256(b"qwen2.5").hexdigest()[:8]
    add(models, {"method": "POST", "endpoint": "/v1/models", "body": {}}, "models", "models-", f"-{digest8}")
    rerank_url = "http://localhost:8000/rerank"
    payload = {"model": "q", "query": "x", "documents": ["a"], "score": 0.123456789}
    sent = {"test_id": TEST_ID, "url": rerank_url, "method": "POST", "payload": payload}
    raw = {
        "test_id": TEST_ID,
        "request": sent,
        "response": {"status": 200, "body": {"results": []}, "is_streaming": False},
    }
    key = {"test_id": TEST_ID, "url": rerank_url, "method": "POST", "payload": {**payload, "score": 0.12346}}
    add(raw, key, "raw-http")
    return names


# --- 5. verify: llama-stack's naming recipes ----------------------------------------------------------


def test_verify_re_derives_every_llama_stack_recipe(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    names = llama_stack_tree(tmp_path)
    code, out, err = run(capsys, "verify", "--json", tmp_path)
    report = json.loads(out)
    assert (code, report["problems"]) == (0, []), err
    assert report["recordings"] == len(names) == 6


def test_verify_reports_a_stale_name_with_the_name_llama_vcr_would_use(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = {"model": "m", "messages": []}
    stale = named(tmp_path, "0" * 64 + ".json", record("https://api.openai.com/v1/v1/chat/completions", body))
    code, out, _ = run(capsys, "verify", stale)
    would = sha({"method": "POST", "endpoint": "/v1/v1/chat/completions", "body": body, "test_id": TEST_ID})
    assert code == 1
    assert "none of llama-stack's naming recipes re-derives it" in out
    assert f"llama-vcr would name it {would}.json (llama-stack's documented recipe)" in out


def test_verify_takes_provider_metadata_and_notes_non_http_records(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tool = {"provider": "tavily", "tool_name": "web_search", "kwargs": {"q": 1}}
    document = {
        "test_id": TEST_ID,
        "request": {"test_id": TEST_ID, **tool},
        "response": {"body": {}, "is_streaming": False},
    }
    named(tmp_path, sha(tool) + ".json", document)
    code, out, _ = run(capsys, "verify", tmp_path)
    assert (
        code == 0
        and "note: not an HTTP recording: a llama-stack tool runtime call (tavily.web_search)" in out
    )


@pytest.mark.parametrize("tree", trees(), ids=lambda tree: tree.name)
def test_verify_reports_only_really_stale_names_in_the_shared_trees(
    capsys: pytest.CaptureFixture[str], tree: Path
) -> None:
    if not recordings([tree]):
        pytest.skip(f"no llama-stack recordings under {tree} (set LLAMA_VCR_CORPUS)")
    manifest = tree / "MANIFEST.txt"
    stale = set()
    if manifest.is_file():  # the corpus lists the files whose names do not re-derive
        lines = manifest.read_text(encoding="utf-8").splitlines()
        stale = {line.split("\t")[0] for line in lines if line.endswith("\tdoes-not-verify")}
    code, out, _ = run(capsys, "verify", "--json", tree)
    report = json.loads(out)
    problems = {(Path(p["path"]).relative_to(tree).as_posix(), p["kind"]) for p in report["problems"]}
    assert problems == {(rel, "name") for rel in stale}
    assert code == (1 if stale else 0)


# --- 6. convert: the whole tree -----------------------------------------------------------------------


def test_convert_takes_a_whole_tree(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "src"
    names = llama_stack_tree(source)
    long_id = "tests/integration/safety/test_llama_guard.py::test_safe[" + "x" * 250 + "]"
    long_name = "a" * 64 + ".json"
    named(source / "safety", long_name, record("https://api.openai.com/v1/v1/chat/completions", {}, long_id))
    named(source / "broken", "b" * 64 + ".json", {"test_id": TEST_ID})  # no request: reported, the rest go on
    tool = {"test_id": TEST_ID, "provider": "tavily", "tool_name": "web_search", "kwargs": {}}
    named(
        source / "responses",
        "c" * 64 + ".json",
        {"test_id": TEST_ID, "request": tool, "response": {"body": {}}},
    )
    dest = tmp_path / "cassettes"
    (dest / "tests" / "t").mkdir(parents=True)
    (dest / "tests" / "t" / "test_m").write_text("a file where a directory must go", encoding="utf-8")

    code, out, _ = run(capsys, "convert", source, dest)
    assert code == 1
    lines = out.splitlines()
    assert lines[-1].startswith(
        f"wrote {len(names)} recording(s), 0 unchanged, 0 conflict(s), 2 source(s) skipped"
    )
    assert lines[-1].endswith(", 1 not-HTTP record(s) set aside")
    assert any("broken" in line and ": skipped: " in line for line in lines)
    assert any("models-" in line and "cannot write" in line for line in lines)  # test_m's directory is a file
    assert any(
        ": set aside: not an HTTP recording: a llama-stack tool runtime call" in line for line in lines
    )
    [written] = (dest / "tests/integration/safety/test_llama_guard").iterdir()
    assert len(written.name.encode()) <= 255 and written.name.startswith("test_safe[xxx")
    assert (written / long_name).is_file()
    assert not list(dest.rglob("c" * 64 + ".json"))  # the tool record was not copied
