"""Issue 14's "Done when": a vcrpy suite's pass count before and after switching it to llama-vcr.

The suite (:func:`write_suite`): 40 ``@pytest.mark.vcr`` tests of 3 interactions each (120 in all)
through the real OpenAI SDK, configured as vcrpy users configure it: ``filter_headers``, and a
``match_on`` of vcrpy's own names, vcrpy's default (method, scheme, host, port, path, query) in one
module and ``method`` + ``uri`` + ``body`` in the other; multi-turn conversations, streams,
embeddings, legacy completions, a model listing, file uploads sent back by id, repeated requests.

1. recorded by plain vcrpy / pytest-recording (``-p no:llama_vcr``) against the local server;
2. replayed by plain vcrpy (``--record-mode=none``): the *before* count;
3. ``llama-vcr convert tests/cassettes cassettes``, the YAML cassettes removed;
4. replayed by llama-vcr (``--record-mode=none``, same ``vcr_config``): the *after* count.

Every pytest runs in its own process. As a script it prints the counts::

    python -m tests.integration.test_migrated_suite [--tests 40]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.server import FakeProviderServer

COMMON = """
import os

import openai
import pytest

BASE = os.environ["MIGRATION_BASE_URL"]


@pytest.fixture
def vcr_config():
    return {{"filter_headers": ["authorization"], "match_on": {match_on!r}}}


def client():
    return openai.OpenAI(base_url=BASE, api_key="sk-migration-0123456789abcdef", max_retries=0)


def chat(messages, **kw):
    reply = client().chat.completions.create(model="gpt-4o-mini", messages=messages, **kw)
    return reply.choices[0].message.content


def user(text):
    return {{"role": "user", "content": text}}
"""

#: One test body per kind, 3 interactions each; ``{i}`` is the test's number.
KINDS = {
    "prompts": """
    for suffix in ("a", "b", "c"):
        assert chat([user(f"prompt {i} {suffix}")]) == f"Echo: prompt {i} {suffix}"
""",
    "conversation": """
    messages = [user("turn {i}")]
    for follow_up in ("and then?", "finally"):
        answer = chat(messages)
        messages += [{"role": "assistant", "content": answer}, user(follow_up)]
    assert answer == "Echo: and then?" and chat(messages) == "Echo: finally"
""",
    "mixed": """
    c = client()
    assert len(c.embeddings.create(model="text-embedding-3-small", input="text {i}").data) == 1
    assert c.completions.create(model="gpt-3.5-turbo-instruct", prompt="say {i}").choices[0].text
    assert [m.id for m in c.models.list()]
""",
    "stream": """
    chunks = client().chat.completions.create(model="gpt-4o-mini", messages=[user("stream {i}")], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: stream {i}"
    assert chat([user("after {i}")], temperature=0.2) == "Echo: after {i}"
    assert chat([user("after {i}")], temperature=0.9) == "Echo: after {i}"
""",
    "files": """
    c = client()
    uploaded = c.files.create(file=("notes{i}.txt", b"notes {i}", "text/plain"), purpose="assistants")
    assert c.files.retrieve(uploaded.id).filename == "notes{i}.txt"
    assert c.files.delete(uploaded.id).deleted
""",
    "repeated": """
    assert [chat([user("same {i}")]) for _ in range(3)] == ["Echo: same {i}"] * 3
""",
}

VCRPY_DEFAULT = ("method", "scheme", "host", "port", "path", "query")
#: module -> (match_on, kinds cycled through). vcrpy's ``body`` compares a multipart upload byte by
#: byte (its boundary is random), so uploads go where bodies are not matched.
MODULES = {
    "test_default_match": (VCRPY_DEFAULT, ("prompts", "conversation", "mixed", "stream", "files")),
    "test_body_match": (
        ("method", "uri", "body"),
        ("prompts", "conversation", "mixed", "stream", "repeated"),
    ),
}


def write_suite(root: Path, tests: int = 40) -> None:
    """The suite: ``tests / 2`` tests in each module of :data:`MODULES`, under ``root/tests``."""
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for module, (match_on, kinds) in MODULES.items():
        parts = [COMMON.format(match_on=match_on)]
        for i in range(tests // len(MODULES)):
            kind = kinds[i % len(kinds)]
            body = textwrap.dedent(KINDS[kind]).replace("{i}", str(i))
            parts.append(f"\n@pytest.mark.vcr\ndef test_{kind}_{i:02d}():\n{textwrap.indent(body, '    ')}")
        (root / "tests" / f"{module}.py").write_text("\n".join(parts), encoding="utf-8")


@dataclass
class Outcome:
    passed: int
    total: int
    failures: list[str]


def run_pytest(root: Path, base_url: str, *args: str) -> Outcome:
    """pytest in ``root``, in its own process; the outcome read from its junit XML."""
    report = root / "report.xml"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "OPENAI_"))}
    env["MIGRATION_BASE_URL"] = base_url
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}", *args]
    subprocess.run(command, cwd=root, env=env, capture_output=True, check=False, timeout=600)
    cases = ET.parse(report).getroot().iter("testcase")
    failures = []
    total = 0
    for case in cases:
        total += 1
        bad = [child for child in case if child.tag in ("failure", "error", "skipped")]
        if bad:
            failures.append(f"{case.get('name')}: {(bad[0].get('message') or '').splitlines()[0][:200]}")
    return Outcome(total - len(failures), total, failures)


@dataclass
class Counts:
    recorded: Outcome
    before: Outcome
    after: Outcome
    converted: int


def measure(root: Path, tests: int = 40) -> Counts:
    """Steps 1-4 of the module docstring in ``root`` (an empty directory)."""
    write_suite(root, tests)
    vcrpy = ("-p", "no:llama_vcr")
    with FakeProviderServer() as server:
        recorded = run_pytest(root, server.base_url, *vcrpy, "--record-mode=once")
        served = len(server.hits)
        before = run_pytest(root, server.base_url, *vcrpy, "--record-mode=none")
        assert len(server.hits) == served, "plain vcrpy's replay reached the server"
        convert = [sys.executable, "-m", "llama_vcr", "convert", "tests/cassettes", "cassettes"]
        subprocess.run(convert, cwd=root, capture_output=True, check=True, timeout=300)
        shutil.rmtree(root / "tests" / "cassettes")
        after = run_pytest(root, server.base_url, "--record-mode=none")
        assert len(server.hits) == served, "llama-vcr's replay reached the server"
    converted = len(list((root / "cassettes").rglob("*.json")))
    return Counts(recorded, before, after, converted)


def test_a_converted_vcrpy_suite_passes_as_before(tmp_path: Path) -> None:
    counts = measure(tmp_path)
    assert counts.recorded.passed == counts.recorded.total == 40, counts.recorded.failures
    assert counts.converted == 120
    assert counts.before.passed == 40, counts.before.failures
    assert counts.after.passed == counts.before.passed, counts.after.failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=40)
    parser.add_argument("--keep", help="build the suite in this (empty or new) directory and keep it")
    args = parser.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="llama-vcr-migration-"))
    counts = measure(root, args.tests)
    print(f"suite: {root}  ({counts.recorded.total} tests, {counts.converted} recordings converted)")
    print(f"recorded by vcrpy:        {counts.recorded.passed}/{counts.recorded.total} passed")
    print(f"replayed by vcrpy:        {counts.before.passed}/{counts.before.total} passed (before)")
    print(f"replayed by llama-vcr:    {counts.after.passed}/{counts.after.total} passed (after)")
    for failure in counts.after.failures:
        print(f"  after: {failure}")
    if not args.keep:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
