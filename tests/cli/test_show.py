"""``llama-vcr show`` finds recordings by file, by the short hash ``ls`` prints, or by a test's node
id; a directory, an unknown or an ambiguous name is a usage error (status 2) that says what to do.

Run as a user types it, in a copy of the committed ``cassettes/`` (the default cassette directory
of a project without a pytest configuration).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from llama_vcr import recording_files
from tests.cli.support import cli

CASSETTES = ROOT / "cassettes"
QUICKSTART = Path("tests") / "examples" / "test_quickstart"
TOOL_TEST = "tests/examples/test_quickstart.py::test_tool_call_round_trip"


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """A directory with a copy of the cassettes (and no pytest configuration above it)."""
    shutil.copytree(CASSETTES, tmp_path / "cassettes")
    return tmp_path


def ls_hashes(here: Path) -> dict[str, str]:
    """The short names ``ls`` prints -> the test each belongs to."""
    result = cli("ls", cwd=here)
    assert result.returncode == 0
    hashes, test = {}, ""
    for line in result.stdout.splitlines()[1:-1]:
        if line.startswith("  "):
            hashes[line.split()[0]] = test
        else:
            test = line
    return hashes


def test_show_takes_the_short_hash_ls_prints(here: Path) -> None:
    hashes = ls_hashes(here)
    assert len(hashes) == len(list((here / "cassettes").rglob("*.json")))
    for short, test in hashes.items():
        assert short.endswith("…") and len(short) == 13
        for typed in (short, short.rstrip("…"), short.rstrip("…").upper()):
            result = cli("show", "--json", typed, cwd=here)
            assert result.returncode == 0, result.stderr
            data = json.loads(result.stdout)
            assert data["test_id"] == test and Path(data["file"]).name.startswith(short[:12])


def test_a_repeat_is_named_with_its_occurrence(here: Path) -> None:
    directory = here / "cassettes" / QUICKSTART / "test_chat_completion"
    [first] = recording_files(directory)
    repeat = shutil.copy(first, directory / f"{first.stem}-2.json")
    shorts = [short for short in ls_hashes(here) if short.startswith(first.name[:12])]
    assert shorts == [f"{first.name[:12]}…", f"{first.name[:12]}…-2"]
    for typed, expected in [
        (shorts[0], first),
        (shorts[1], repeat),
        (f"{first.name[:12]}-2", repeat),
        (first.name, first),  # a whole file name, without its directory
        (first.stem[:20], first),  # more than 12 characters of the hash
    ]:
        result = cli("show", "--json", typed, cwd=here)
        assert result.returncode == 0, (typed, result.stderr)
        assert Path(json.loads(result.stdout)["file"]) == expected.relative_to(here)
    missing = cli("show", f"{first.name[:12]}-3", cwd=here)
    assert missing.returncode == 2 and missing.stdout == ""
    assert (
        missing.stderr
        == f"llama-vcr: no recording named {first.name[:12]}-3 under cassettes (llama-vcr ls lists them)\n"
    )


def test_an_ambiguous_short_hash_lists_the_candidates(here: Path) -> None:
    [source] = recording_files(here / "cassettes" / QUICKSTART / "test_chat_completion")
    copy = here / "cassettes" / "tests" / "other" / "test_copy" / source.name
    copy.parent.mkdir(parents=True)
    shutil.copy(source, copy)
    result = cli("show", source.name[:12], cwd=here)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"llama-vcr: {source.name[:12]} names 2 recordings; show one of them:"
    assert sorted(line.strip() for line in lines[1:]) == sorted(
        str(path.relative_to(here)) for path in (source, copy)
    )
    assert cli("show", str(copy.relative_to(here)), cwd=here).returncode == 0  # as a path it is one


def test_a_node_id_shows_every_recording_of_that_test(here: Path) -> None:
    files = recording_files(here / "cassettes" / QUICKSTART / "test_tool_call_round_trip")
    assert len(files) == 2
    result = cli("show", "--json", TOOL_TEST, cwd=here)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert [Path(data["file"]) for data in shown] == [path.relative_to(here) for path in files]
    assert {data["test_id"] for data in shown} == {TOOL_TEST}

    text = cli("show", TOOL_TEST, cwd=here).stdout.splitlines()
    assert [line for line in text if line.startswith("── ")] == ["── 1/2 ──", "── 2/2 ──"]
    assert [line for line in text if line.startswith("file: ")] == [
        f"file: {path.relative_to(here)}" for path in files
    ]
    single = cli("show", "--json", "tests/examples/test_quickstart.py::test_chat_completion", cwd=here)
    assert single.returncode == 0 and len(json.loads(single.stdout)) == 1  # a list, even of one


def test_a_node_id_covers_parameters_and_class_methods_and_moved_files(here: Path, tmp_path: Path) -> None:
    root = tmp_path / "recs"
    [source] = recording_files(here / "cassettes" / QUICKSTART / "test_chat_completion")
    for folder in ("test_p[1]", "test_p[2]", "TestK.test_m", "test_p_other"):
        (root / "tests" / "test_x" / folder).mkdir(parents=True)
        shutil.copy(source, root / "tests" / "test_x" / folder)
    assert (
        len(json.loads(cli("show", "--json", "tests/test_x.py::test_p", "--dir", root, cwd=here).stdout)) == 2
    )
    one = cli("show", "--json", "tests/test_x.py::test_p[2]", "--dir", root, cwd=here)
    assert [Path(d["file"]).parent.name for d in json.loads(one.stdout)] == ["test_p[2]"]
    by_class = cli("show", "--json", "tests/test_x.py::TestK", "--dir", root, cwd=here)
    assert [Path(d["file"]).parent.name for d in json.loads(by_class.stdout)] == ["TestK.test_m"]
    # a recording outside its test's directory is found by its test_id
    moved = cli(
        "show", "--json", "tests/examples/test_quickstart.py::test_chat_completion", "--dir", root, cwd=here
    )
    assert moved.returncode == 0 and len(json.loads(moved.stdout)) == 4
    gone = cli("show", "tests/test_x.py::test_gone", "--dir", root, cwd=here)
    assert (gone.returncode, gone.stderr) == (
        2,
        "llama-vcr: no recordings of tests/test_x.py::test_gone under recs\n",
    )


def test_show_of_a_directory_suggests_ls(here: Path) -> None:
    directory = here / "cassettes" / QUICKSTART / "test_tool_call_round_trip"
    for typed in ("cassettes", str(directory.relative_to(here))):
        result = cli("show", typed, cwd=here)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr == (
            f"llama-vcr: {typed} is a directory, not a recording; "
            f"to list its recordings: llama-vcr ls {typed}\n"
        )
        assert "no such file" not in result.stderr
    odd = here / "cassettes" / "test_p[1]"  # quoted for the shell
    odd.mkdir()
    result = cli("show", "cassettes/test_p[1]", cwd=here)
    assert result.stderr.endswith("llama-vcr ls 'cassettes/test_p[1]'\n")


def test_show_usage_errors_exit_2(here: Path) -> None:
    for typed, message in [
        ("nothing.json", "no such file: nothing.json"),
        ("abc", "no such file: abc"),  # too short for a hash
        ("0123456789ab", "no recording named 0123456789ab under cassettes (llama-vcr ls lists them)"),
        ("t.py::", "not a pytest node id (path/to/test_module.py::test_name): 't.py::'"),
    ]:
        result = cli("show", typed, cwd=here)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", f"llama-vcr: {message}\n")
    elsewhere = here / "empty"
    elsewhere.mkdir()
    no_dir = cli("show", "0123456789ab", cwd=elsewhere)
    assert no_dir.returncode == 2
    assert (
        no_dir.stderr
        == "llama-vcr: no such directory: cassettes (the default; no pytest configuration found)\n"
    )
