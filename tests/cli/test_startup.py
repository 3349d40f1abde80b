"""What the ``llama-vcr`` command line imports: nothing heavy for ``--help``/``--version``, only the
module of the command that runs, and never the vcrpy adapter (``llama_vcr._vcrpy``).

Every check runs ``python -m llama_vcr`` in a fresh interpreter, as a user types it.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import llama_vcr.cli
from conftest import ROOT

CASSETTES = ROOT / "cassettes"
#: The installed CLI's sources (the wheel's, when CI tests the wheel).
CLI_DIR = Path(llama_vcr.cli.__file__).parent
HEAVY = ("openai", "vcr", "pytest", "pydantic", "rich")
COMMAND_MODULES = {f"llama_vcr.cli.{name}" for name in ("ls", "show", "verify", "prune", "convert")}
#: A minimal vcrpy YAML cassette (``convert`` reads it).
VCRPY_CASSETTE = """\
interactions:
- request:
    body: '{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
    headers: {Content-Type: [application/json]}
    method: POST
    uri: http://127.0.0.1:9/v1/chat/completions
  response:
    body: {string: '{"id": "chatcmpl-1", "object": "chat.completion", "model": "m", "choices": []}'}
    headers: {Content-Type: [application/json]}
    status: {code: 200, message: OK}
version: 1
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    return {**env, "PYTHONIOENCODING": "utf-8", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def importtime(*argv: str, cwd: Path = ROOT) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules ``python -X importtime -m llama_vcr ARGV`` reports importing.

    (The report misses a module loaded by ``importlib.import_module`` itself, though not the
    modules that one imports: :func:`loaded_by` sees everything.)
    """
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llama_vcr", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        check=False,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "imported package" not in line
    }
    return modules, result


def loaded_by(*argv: str, cwd: Path = ROOT) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """``sys.modules`` at the exit of ``python -m llama_vcr ARGV`` (run through ``runpy``, as ``-m`` does).

    ``click`` is made unimportable: httpx (which vcrpy imports) loads its own command line, and with
    it rich, whenever click is installed; what is checked here is what llama-vcr itself imports.
    """
    script = textwrap.dedent(
        f"""
        import atexit, json, runpy, sys

        sys.modules["click"] = None

        def report():
            sys.__stderr__.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n")

        atexit.register(report)
        sys.argv = ["llama-vcr", *{list(argv)!r}]
        runpy.run_module("llama_vcr", run_name="__main__", alter_sys=True)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, env=_env(), check=False
    )
    [report] = [line for line in result.stderr.splitlines() if line.startswith("MODULES ")]
    return set(json.loads(report.removeprefix("MODULES "))), result


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m in HEAVY or m.startswith(tuple(f"{name}." for name in HEAVY))}


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["verify", "--help"], ["show", "--help"]])
def test_help_and_version_import_no_sdk_vcrpy_pytest_pydantic_or_rich(argv: list[str]) -> None:
    for modules, result in (importtime(*argv), loaded_by(*argv)):
        assert result.returncode == 0
        assert "llama_vcr.cli" in modules  # the report is read right (else the checks below prove nothing)
        assert heavy(modules) == set()
        assert modules & COMMAND_MODULES == set()  # not even the command's own module


def test_the_task_s_own_check_prints_nothing() -> None:
    """``python -X importtime -m llama_vcr --help 2>&1 | grep -E ' (openai|vcr|pytest|pydantic)$'``"""
    _, result = importtime("--help")
    lines = (result.stdout + result.stderr).splitlines()
    assert [line for line in lines if line.endswith((" openai", " vcr", " pytest", " pydantic"))] == []
    assert "https://github.com/llama-vcr/llama-vcr/blob/main/docs/cli.md" in result.stdout


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["ls", "--json", str(CASSETTES)], "llama_vcr.cli.ls"),
        (["verify", str(CASSETTES)], "llama_vcr.cli.verify"),
        (["show", "--json", "tests/examples/test_quickstart.py::test_chat_completion"], "llama_vcr.cli.show"),
    ],
)
def test_a_command_imports_its_own_module_only(argv: list[str], module: str) -> None:
    modules, result = loaded_by(*argv)
    assert result.returncode == 0, result.stderr[-2000:]
    assert modules & COMMAND_MODULES == {module}
    assert ("rich" in modules) is ("--json" not in argv)  # rich only for terminal output
    assert "llama_vcr._vcrpy" not in modules


def _imports_of(path: Path) -> list[str]:
    """Every module a source file imports, relative ones resolved against ``llama_vcr.cli``."""
    names: list[str] = []
    package = ["llama_vcr", "cli"]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value:
            names.append(node.value)  # importlib.import_module("llama_vcr._vcrpy")
    return names


def test_no_cli_source_imports_the_vcrpy_adapter() -> None:
    sources = sorted(CLI_DIR.glob("*.py"))
    assert {path.name for path in sources} >= {"__init__.py", "ls.py", "show.py", "verify.py", "prune.py"}
    imports = {path.name: _imports_of(path) for path in sources}
    assert "llama_vcr.cli._common.iter_recordings" in imports["verify.py"]  # relative imports resolved
    offenders = {name: [m for m in found if "_vcrpy" in m.split(".")] for name, found in imports.items()}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_command_imports_the_vcrpy_adapter_when_it_runs(tmp_path: Path) -> None:
    """Every command, run for real in one interpreter: ``llama_vcr._vcrpy`` is never loaded."""
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (project / "tests" / "test_m.py").write_text("def test_a():\n    pass\n", encoding="utf-8")
    cassette = tmp_path / "vcrpy" / "test_m" / "test_a.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text(VCRPY_CASSETTE, encoding="utf-8")
    cassettes, destination = str(CASSETTES), str(project / "cassettes")
    script = textwrap.dedent(
        f"""
        import sys
        from llama_vcr.cli import main

        runs = [
            ["ls", {cassettes!r}],
            ["show", "tests/examples/test_quickstart.py::test_tool_call_round_trip", "--dir", {cassettes!r}],
            ["verify", {cassettes!r}],
            ["convert", {str(cassette)!r}, {destination!r}, "--test-id", "tests/test_m.py::test_a"],
            ["prune", {destination!r}, "--rootdir", {str(project)!r}],
        ]
        codes = [main(argv) for argv in runs]
        print("CODES", codes)
        print("COMMANDS", sorted(m for m in sys.modules if m.startswith("llama_vcr.cli.")))
        print("VCRPY", sorted(m for m in sys.modules if m.startswith("llama_vcr._vcrpy")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=_env(), check=False
    )
    lines = {
        line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in result.stdout.splitlines() if " " in line
    }
    assert result.returncode == 0, result.stderr[-2000:]
    assert lines["CODES"] == "[0, 0, 0, 0, 0]", result.stdout + result.stderr
    for module in COMMAND_MODULES:
        assert repr(module) in lines["COMMANDS"]  # every command did run
    assert lines["VCRPY"] == "[]"
