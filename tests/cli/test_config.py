"""The command line reads the project's pytest configuration (without importing pytest): the default
cassette directory (``llama_vcr_cassette_dir``), ``llama_vcr_secret_env`` and ``llama_vcr_redact``.

The file chosen is checked against pytest's own discovery; the commands are run as a user types
them, from a directory inside the project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.config.findpaths import locate_config

from conftest import ROOT
from llama_vcr import recording_files
from llama_vcr.cli._config import find_config
from llama_vcr.cli._console import UsageError

CASSETTES = ROOT / "cassettes"
STREAM_DIR = CASSETTES / "tests" / "examples" / "test_quickstart" / "test_streaming_chat_completion"


def cli(*argv: object, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    return subprocess.run(
        [sys.executable, "-m", "llama_vcr", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, "PYTHONIOENCODING": "utf-8", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **env},
        check=False,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- which file, which value -------------------------------------------------------------------------

CONFIGS = {
    "pytest.ini": "[pytest]\nllama_vcr_cassette_dir = recs\n",
    ".pytest.ini": "[pytest]\nllama_vcr_cassette_dir = recs\n",
    "pytest.toml": '[pytest]\nllama_vcr_cassette_dir = "recs"\n',
    "pyproject.toml": '[project]\nname = "x"\n\n[tool.pytest.ini_options]\nllama_vcr_cassette_dir = "recs"\n',
    "tox.ini": "[tox]\nenv_list = py\n\n[testenv]\ncommands = pytest {posargs}\n\n"
    "[pytest]\nllama_vcr_cassette_dir = recs\n",
    "setup.cfg": "[metadata]\nname = x\n\n[tool:pytest]\nllama_vcr_cassette_dir = recs\n",
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_each_kind_of_pytest_config_file(tmp_path: Path, name: str) -> None:
    config_file = write(tmp_path / "project" / name, CONFIGS[name])
    deeper = tmp_path / "project" / "tests" / "unit"
    deeper.mkdir(parents=True)
    config = find_config(deeper)
    assert config.file == config_file == locate_config(deeper, [deeper])[1]
    assert config.cassette_dir == tmp_path / "project" / "recs"  # relative to the config file


@pytest.mark.parametrize(
    ("files", "chosen"),
    [
        # the same directory: pytest's precedence
        ({"pytest.ini": "[pytest]\n", "pyproject.toml": CONFIGS["pyproject.toml"]}, "pytest.ini"),
        ({"pyproject.toml": CONFIGS["pyproject.toml"], "tox.ini": CONFIGS["tox.ini"]}, "pyproject.toml"),
        ({"tox.ini": CONFIGS["tox.ini"], "setup.cfg": CONFIGS["setup.cfg"]}, "tox.ini"),
        # files that do not configure pytest are passed over...
        ({"tox.ini": "[tox]\n", "setup.cfg": CONFIGS["setup.cfg"]}, "setup.cfg"),
        ({"pyproject.toml": '[project]\nname = "x"\n', "sub/tox.ini": "[tox]\n"}, "pyproject.toml"),
        # ...but a pytest.ini always configures it; the nearest directory wins
        ({"pyproject.toml": CONFIGS["pyproject.toml"], "sub/pytest.ini": "# empty\n"}, "sub/pytest.ini"),
        ({"setup.cfg": CONFIGS["setup.cfg"], "sub/setup.cfg": "[metadata]\n"}, "setup.cfg"),
        ({"pyproject.toml": '[tool.pytest]\nllama_vcr_cassette_dir = "recs"\n'}, "pyproject.toml"),
    ],
)
def test_the_file_pytest_would_choose(tmp_path: Path, files: dict[str, str], chosen: str) -> None:
    for name, text in files.items():
        write(tmp_path / name, text)
    start = tmp_path / "sub" / "deeper"
    start.mkdir(parents=True)
    config = find_config(start)
    assert config.file == tmp_path / chosen == locate_config(start, [start])[1]
    assert config.rootdir == (tmp_path / chosen).parent


def test_defaults_and_line_lists(tmp_path: Path) -> None:
    assert find_config(tmp_path).cassette_dir == Path("cassettes")  # nothing found: as typed, here
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')  # a rootdir, no options
    assert find_config(tmp_path).cassette_dir == tmp_path / "cassettes"
    write(tmp_path / "pytest.ini", "[pytest]\nllama_vcr_secret_env =\n    TOKEN_A\n    TOKEN_B\n")
    assert find_config(tmp_path).secret_env == ("TOKEN_A", "TOKEN_B")
    assert find_config(tmp_path).cassette_dir == tmp_path / "cassettes"
    (tmp_path / "pytest.ini").unlink()
    write(tmp_path / "pyproject.toml", '[tool.pytest.ini_options]\nllama_vcr_redact = ["x-tenant"]\n')
    assert find_config(tmp_path).redact == ("x-tenant",)
    write(tmp_path / "pyproject.toml", "[tool.pytest.ini_options\n")
    with pytest.raises(UsageError, match=r"cannot read the pytest configuration in .*pyproject\.toml"):
        find_config(tmp_path)


# --- the commands ------------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose recordings live in ``recs/`` (configured in pyproject.toml), run from below."""
    root = tmp_path / "project"
    shutil.copytree(CASSETTES, root / "recs")
    ini = '[tool.pytest.ini_options]\nllama_vcr_cassette_dir = "recs"\nllama_vcr_secret_env = ["MY_TENANT"]\n'
    write(root / "pyproject.toml", ini)
    (root / "src" / "pkg").mkdir(parents=True)
    return root


def test_ls_verify_and_show_default_to_the_configured_directory(project: Path) -> None:
    here = project / "src" / "pkg"
    listed = cli("ls", "--json", cwd=here)
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert len(entries) == len(list((project / "recs").rglob("*.json")))
    assert {Path(e["path"]).parent.parent.parent.parent.parent for e in entries} == {project / "recs"}
    verified = cli("verify", cwd=here)
    assert verified.returncode == 0 and verified.stdout.startswith(f"{len(entries)} recording(s) verified")
    shown = cli("show", "--json", "tests/examples/test_quickstart.py::test_chat_completion", cwd=here)
    assert shown.returncode == 0 and len(json.loads(shown.stdout)) == 1

    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nllama_vcr_cassette_dir = "elsewhere"\n', encoding="utf-8"
    )
    missing = cli("ls", cwd=here)
    assert missing.returncode == 2
    assert missing.stderr == (
        f"llama-vcr: no such directory: {project / 'elsewhere'} "
        f"(llama_vcr_cassette_dir in {project / 'pyproject.toml'})\n"
    )


def test_verify_and_convert_use_the_configured_secret_env(project: Path) -> None:
    [recording] = recording_files(project / "recs" / STREAM_DIR.relative_to(CASSETTES))
    value = "tenant-token-abcdefgh"
    document = json.loads(recording.read_text())
    document["response"]["body"][0]["__data__"]["system_fingerprint"] = value  # the name still derives
    recording.write_text(json.dumps(document, indent=2), encoding="utf-8")
    here = project / "src" / "pkg"
    found = cli("verify", cwd=here, MY_TENANT=value)
    assert found.returncode == 1 and "secret: contains the value of $MY_TENANT" in found.stdout
    assert cli("verify", project / "recs", cwd=project.parent, MY_TENANT=value).returncode == 0  # no config
    # a variable named like a secret (llama_vcr_secret_env_patterns' default) needs no configuration
    named = cli("verify", project / "recs", cwd=project.parent, MY_TENANT_TOKEN=value)
    assert named.returncode == 1 and "secret: contains the value of $MY_TENANT_TOKEN" in named.stdout
    with (project / "pyproject.toml").open("a", encoding="utf-8") as file:
        file.write("llama_vcr_secret_env_patterns = []\n")  # the opt-out
    assert cli("verify", cwd=here, MY_TENANT_TOKEN=value).returncode == 0

    converted = cli("convert", project / "recs", project / "out", cwd=here, MY_TENANT=value)
    assert converted.returncode == 0
    assert "the value of $MY_TENANT was replaced by REDACTED" in converted.stderr
    assert not any(value in path.read_text() for path in (project / "out").rglob("*.json"))
    assert cli("verify", project / "out", cwd=here, MY_TENANT=value).returncode == 0


def test_verify_uses_the_configured_redact_names(project: Path) -> None:
    [recording] = recording_files(project / "recs" / STREAM_DIR.relative_to(CASSETTES))
    document = json.loads(recording.read_text())
    document["request"]["headers"]["x-tenant"] = "acme"
    recording.write_text(json.dumps(document, indent=2), encoding="utf-8")
    here = project / "src" / "pkg"
    assert cli("verify", cwd=here).returncode == 0  # an ordinary header name
    with (project / "pyproject.toml").open("a", encoding="utf-8") as file:
        file.write('llama_vcr_redact = ["X-Tenant"]\n')
    flagged = cli("verify", cwd=here)
    assert flagged.returncode == 1 and "secret: request header 'x-tenant' is stored" in flagged.stdout


PROJECT_TESTS = "def test_kept():\n    pass\n"


def test_prune_collects_the_whole_project_from_a_subdirectory(tmp_path: Path) -> None:
    root = tmp_path / "project"
    write(root / "pytest.ini", "[pytest]\nllama_vcr_cassette_dir = recordings\n")
    write(root / "tests" / "test_mod.py", PROJECT_TESTS)
    recs = root / "recordings" / "tests"
    [source] = recording_files(STREAM_DIR)
    kept = write(recs / "test_mod" / "test_kept" / source.name, source.read_text())
    gone = write(recs / "test_gone" / "test_x" / source.name, source.read_text())
    docs = root / "docs"
    docs.mkdir()

    result = cli("prune", "--json", cwd=docs)  # pytest must run in root/, not in docs/ (no tests there)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["collected"] == 1
    assert [Path(o["path"]) for o in report["orphans"]] == [gone]
    assert kept.exists() and gone.exists()
