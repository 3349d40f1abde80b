"""The ``llama-vcr`` conventions, run as a user types them (``python -m llama_vcr ...``): colour
(``--color``, ``NO_COLOR``, ``FORCE_COLOR``, a terminal), tables trimmed to the terminal width,
``--help``/``--version``, and ``verify --format github``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from llama_vcr import __version__, recording_files
from llama_vcr.cli._console import annotation, fit_widths
from tests.cli import support

CASSETTES = ROOT / "cassettes"
DOCS_URL = "https://github.com/llama-vcr/llama-vcr/blob/main/docs/cli.md"
ESC = "\033["
GITHUB_LINE = re.compile(r"^::(error|warning) file=([^,]+)(?:,line=(\d+))?,title=([^:]+)::(.*)$")


def cli(*argv: object, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return support.cli(*argv, cwd=cwd, **env)


# --- colour ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "coloured"),
    [
        (["verify"], {}, False),  # auto, and stdout is a pipe
        (["verify"], {"FORCE_COLOR": "1"}, True),
        (["verify"], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),  # NO_COLOR wins
        (["verify"], {"FORCE_COLOR": ""}, False),  # empty means unset
        (["--color", "always", "verify"], {}, True),
        (["--color", "always", "verify"], {"NO_COLOR": "1"}, True),  # the flag wins over the variable
        (["--color", "never", "verify"], {"FORCE_COLOR": "1"}, False),
        (["--color", "auto", "verify"], {"FORCE_COLOR": "1"}, True),
        (["verify", "--color", "always"], {}, True),  # also after the command
        (["--color", "always", "verify", "--color", "never"], {}, False),  # the later one wins
    ],
)
def test_color_flag_and_environment(argv: list[str], env: dict[str, str], coloured: bool) -> None:
    result = cli(*argv, CASSETTES, **env)
    plain = re.sub(r"\033\[[0-9;]*m", "", result.stdout)
    assert (
        result.returncode == 0
        and plain == f"{len(list(CASSETTES.rglob('*.json')))} recording(s) verified: no problems\n"
    )
    assert (ESC in result.stdout) is coloured
    if coloured:
        assert f"{ESC}32m" in result.stdout  # green: the summary


def test_auto_colour_on_a_terminal(tmp_path: Path) -> None:
    pty = pytest.importorskip("pty")
    script = (
        "import sys; from llama_vcr.cli import main; "
        f"sys.exit(main(['verify', {str(CASSETTES)!r}] + sys.argv[1:]))"
    )
    outputs = {}
    for flag in ("", "--color=never"):
        controller, terminal = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
        process = subprocess.Popen(
            [sys.executable, "-c", script, *([flag] if flag else [])],
            stdout=terminal,
            stderr=subprocess.PIPE,
            env={**env, "TERM": "xterm", "PYTHONIOENCODING": "utf-8"},
        )
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(controller)
        assert process.wait(timeout=60) == 0
        outputs[flag] = b"".join(chunks).decode()
    assert ESC in outputs[""] and "verified: no problems" in outputs[""]
    assert ESC not in outputs["--color=never"]


def test_json_output_is_plain_whatever_the_colour_and_width() -> None:
    plain = cli("ls", "--json", CASSETTES)
    forced = cli("--color", "always", "ls", "--json", CASSETTES, COLUMNS="40")
    assert plain.returncode == forced.returncode == 0
    assert ESC not in forced.stdout
    strip = [{k: v for k, v in e.items() if k != "age_seconds"} for e in json.loads(plain.stdout)]
    assert strip == [{k: v for k, v in e.items() if k != "age_seconds"} for e in json.loads(forced.stdout)]
    assert len(strip) == len(list(CASSETTES.rglob("*.json")))


# --- width -------------------------------------------------------------------------------------------


def test_ls_fits_the_terminal_width() -> None:
    natural = cli("ls", CASSETTES).stdout.splitlines()
    assert max(map(len, natural)) > 80 and "…" not in "".join(line for line in natural[1:] if line[:1] != " ")
    for columns in (80, 60, 45):
        result = cli("ls", CASSETTES, COLUMNS=str(columns))
        lines = result.stdout.splitlines()
        assert result.returncode == 0 and len(lines) == len(natural)
        assert max(map(len, lines)) <= columns, (columns, lines)
        assert lines[0].split()[:3] == ["TEST", "/", "FILE"]
        assert "…" in result.stdout
    sixty = cli("ls", CASSETTES, COLUMNS="60").stdout.splitlines()
    # the endpoint and model columns are cut first: the short hashes `show` takes stay whole
    hashes = {line.split()[0] for line in natural if line.startswith("  ")}
    assert {line.split()[0] for line in sixty if line.startswith("  ")} == hashes


def test_a_huge_terminal_does_not_pad_lines() -> None:
    result = cli("ls", CASSETTES, COLUMNS="500")
    assert result.stdout.splitlines() == cli("ls", CASSETTES).stdout.splitlines()
    assert all(line == line.rstrip() for line in result.stdout.splitlines())


def test_fit_widths_cuts_the_widest_flexible_column_first() -> None:
    assert fit_widths([10, 30, 20, 4], flexible=(1, 2), budget=100) == [10, 30, 20, 4]
    assert fit_widths([10, 30, 20, 4], flexible=(1, 2), budget=54) == [10, 20, 20, 4]
    assert fit_widths([10, 30, 20, 4], flexible=(1, 2), budget=44) == [10, 15, 15, 4]
    assert fit_widths([10, 30, 20, 4], flexible=(1, 2), budget=10) == [10, 6, 6, 4]  # then rich cuts


# --- help and version --------------------------------------------------------------------------------


def test_help_links_the_docs_and_version_names_the_program() -> None:
    result = cli("--help")
    assert result.returncode == 0 and DOCS_URL in result.stdout.split()
    assert "--color {auto,always,never}" in result.stdout
    for command in ("ls", "show", "verify", "prune", "convert"):
        sub = cli(command, "--help")
        assert sub.returncode == 0 and f"{DOCS_URL}#{command}" in sub.stdout.split()
    version = cli("--version")
    assert (version.returncode, version.stdout) == (0, f"llama-vcr {__version__}\n")
    usage = cli("--color", "purple", "ls")
    assert usage.returncode == 2 and "invalid choice: 'purple'" in usage.stderr


# --- verify --format github --------------------------------------------------------------------------


@pytest.fixture
def tampered(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = Path(shutil.copytree(CASSETTES, tmp_path / "cassettes"))
    examples = root / "tests" / "examples" / "test_quickstart"
    [renamed] = recording_files(examples / "test_chat_completion")
    renamed = renamed.rename(renamed.with_name("0" * 64 + ".json"))
    [leaky] = recording_files(examples / "test_streaming_chat_completion")
    leaky.write_text(
        leaky.read_text().replace('"model": "gpt-4o-mini"', '"model": "sk-leaked0123456789abcdefXYZ"', 1),
        encoding="utf-8",
    )
    vcrpy = examples / "test_async_streaming" / "old.json"
    vcrpy.write_text('{"interactions": [], "version": 1}', encoding="utf-8")
    return root, {"renamed": renamed, "leaky": leaky, "vcrpy": vcrpy}


def test_verify_format_github_prints_one_annotation_per_finding(
    tampered: tuple[Path, dict[str, Path]],
) -> None:
    root, files = tampered
    report = cli("verify", "--json", "cassettes", cwd=root.parent)
    findings = json.loads(report.stdout)
    result = cli("verify", "--format", "github", "cassettes", cwd=root.parent)
    assert result.returncode == report.returncode == 1
    annotations = [GITHUB_LINE.match(line) for line in result.stdout.splitlines()]
    assert all(annotations), result.stdout
    assert len(annotations) == len(findings["problems"]) + len(findings["notes"]) >= 3
    levels = [(m[1], m[2], m[4]) for m in annotations if m]
    renamed = files["renamed"].relative_to(root.parent).as_posix()
    assert ("error", renamed, "llama-vcr verify%3A name") in levels
    vcrpy = files["vcrpy"].relative_to(root.parent).as_posix()
    assert ("warning", vcrpy, "llama-vcr verify%3A vcrpy-cassette") in levels  # a note
    [secret] = [m for m in annotations if m and "looks like an OpenAI" in m[5]]
    line = (
        files["leaky"]
        .read_text()
        .splitlines()
        .index(next(t for t in files["leaky"].read_text().splitlines() if "sk-leaked" in t))
    )
    assert secret[1] == "error" and secret[3] == str(line + 1)
    assert "sk-leaked0123456789abcdefXYZ" not in result.stdout
    assert result.stderr.startswith("llama-vcr: ") and "problem(s)" in result.stderr


def test_verify_format_github_keeps_the_exit_codes(tmp_path: Path) -> None:
    clean = cli("verify", "--format", "github", CASSETTES, FORCE_COLOR="1")
    assert clean.returncode == 0 and not any(line.startswith("::") for line in clean.stdout.splitlines())
    assert cli("verify", "--format", "github", tmp_path / "missing").returncode == 2
    both = cli("verify", "--format", "github", "--json", CASSETTES)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    assert cli("verify", "--format", "sarif", CASSETTES).returncode == 2


def test_annotations_escape_what_github_would_misread() -> None:
    line = annotation("error", "50% done\nnext", file="a,b:c.json", title="t: x", line=3)
    assert line == "::error file=a%2Cb%3Ac.json,line=3,title=t%3A x::50%25 done%0Anext"
    assert annotation("warning", "m", file="f.json", title="t") == "::warning file=f.json,title=t::m"
