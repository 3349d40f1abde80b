"""``llama-vcr`` on recordings it cannot trust: one bad file is reported and the others are still
checked (``verify``, ``ls``, ``show`` of a test), never a traceback; what ``show`` prints holds no
terminal control sequence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llama_vcr import CODEC, recording_name
from llama_vcr.cli import main
from llama_vcr.cli._common import printable
from tests.unit.test_validate import audio, chat, chat_stream

TEST = "tests/test_m.py::test_a"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _write(directory: Path, document: dict[str, Any], name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name or recording_name(document))
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def _good(directory: Path) -> Path:
    document = chat_stream()
    document["test_id"] = TEST
    return _write(directory, document)


@pytest.fixture
def cassettes(tmp_path: Path) -> dict[str, Path]:
    """A cassette directory with one good recording and one bad file of each kind."""
    root = tmp_path / "cassettes"
    files: dict[str, Path] = {"good": _good(root / "tests" / "test_m" / "test_a")}
    bad = root / "tests" / "test_m" / "test_bad"
    deep = _write(bad, chat(), "1" * 64 + ".json")
    deep.write_text(deep.read_text().replace('"model": "gpt-4o"', '"x": ' + "[" * 100_000 + "]" * 100_000, 1))
    files["deep"] = deep
    files["fifo"] = bad / ("2" * 64 + ".json")
    os.mkfifo(files["fifo"])
    files["link"] = bad / ("3" * 64 + ".json")
    files["link"].symlink_to("/etc/passwd")
    document = audio()
    document["response"]["body"]["__bytes__"] = "!!!not base64!!!"
    files["base64"] = _write(bad, document, "4" * 64 + ".json")
    document = chat()
    document["recorded_at"] = 10**400
    files["huge date"] = _write(bad, document, "5" * 64 + ".json")
    document = chat()
    document["request"]["url"] = "http://[::1/v1/chat/completions"
    files["bad url"] = _write(bad, document, "6" * 64 + ".json")
    name = os.fsencode(bad) + b"/\xff\x1b[31m.json"  # a name that is neither UTF-8 nor printable
    with open(name, "wb") as handle:
        handle.write(b"[]")
    files["name"] = Path(os.fsdecode(name))
    return {"root": root, **files}


def _no_traceback(*outputs: str) -> None:
    for output in outputs:
        assert "Traceback" not in output and "\x1b" not in output


def test_verify_reports_every_bad_file_and_checks_the_others(
    capsys: pytest.CaptureFixture[str], cassettes: dict[str, Path]
) -> None:
    code, out, err = run(capsys, "verify", "--json", cassettes["root"])
    report = json.loads(out)
    assert code == 1 and report["recordings"] == 8
    problems: dict[str, list[str]] = {}
    for problem in report["problems"]:
        problems.setdefault(problem["path"], []).append(problem["message"])
    assert str(cassettes["good"]) not in problems
    assert problems[str(cassettes["deep"])] == [
        "unreadable: request.body.x[0][0][0]…: arrays and objects nested more than 100 levels deep"
    ]
    assert problems[str(cassettes["fifo"])] == [
        "unreadable: a FIFO (named pipe), not a regular file: recordings are read only from regular files"
    ]
    assert problems[str(cassettes["link"])][0].startswith(
        "unreadable: a symbolic link to '/etc/passwd', outside "
    )
    assert (
        "does not load: response.body.__bytes__: '!!!not base64!!!' is not valid base64"
        in (problems[str(cassettes["base64"])])
    )
    assert any("request.url" in message for message in problems[str(cassettes["bad url"])])
    assert printable(str(cassettes["name"])) in problems  # (its name made printable)
    _no_traceback(out, err)


def test_verify_as_a_program_never_tracebacks(cassettes: dict[str, Path]) -> None:
    """As CI runs it (and with a FIFO in the tree: a read would block, so a timeout would fail)."""
    result = subprocess.run(
        [sys.executable, "-m", "llama_vcr", "verify", str(cassettes["root"])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    _no_traceback(result.stdout, result.stderr)
    assert "problem(s) in 7 of 8 recording(s)" in result.stderr
    assert f"{cassettes['base64']}: does not load: response.body.__bytes__" in result.stdout


def test_ls_reports_every_bad_file_and_lists_the_others(
    capsys: pytest.CaptureFixture[str], cassettes: dict[str, Path]
) -> None:
    code, out, err = run(capsys, "ls", "--json", cassettes["root"])
    assert code == 1
    listed = {entry["path"] for entry in json.loads(out)}
    assert str(cassettes["good"]) in listed and str(cassettes["base64"]) in listed
    errors = err.splitlines()
    for kind in ("deep", "fifo", "link", "huge date", "name"):
        shown = printable(str(cassettes[kind]))
        assert any(line.startswith(f"llama-vcr: {shown}: cannot ") for line in errors), kind
    assert f"llama-vcr: {cassettes['huge date']}: cannot list: OverflowError: " in err
    _no_traceback(out, err)
    code, out, err = run(capsys, "ls", cassettes["root"])  # the table too
    assert code == 1 and "test_m.py::test_a" in out
    _no_traceback(out, err)


def test_show_of_a_test_reports_a_bad_file_and_shows_the_others(
    capsys: pytest.CaptureFixture[str], cassettes: dict[str, Path]
) -> None:
    bad = cassettes["good"].parent / ("0" * 64 + ".json")
    bad.symlink_to("/etc/passwd")
    code, out, err = run(capsys, "show", TEST, "--dir", cassettes["root"])
    assert code == 1 and "reply (assistant): hello" in out
    assert f"llama-vcr: {bad}: cannot read: a symbolic link to '/etc/passwd', outside " in err
    code, _, err = run(capsys, "show", bad)
    assert code == 2 and f"cannot read {bad}: a symbolic link to '/etc/passwd', outside {bad.parent}" in err


def test_show_strips_terminal_control_sequences_from_recorded_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = chat()
    hostile = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m \x9b31mc1\x07\x08\r\n\tnext line \ud800"
    document["response"]["body"]["__data__"]["choices"][0]["message"]["content"] = hostile
    document["request"]["body"]["messages"][0]["content"] = (
        "hi \x1b[1;1H\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\"
    )
    document["test_id"] = "tests/test_m.py::test_\x1b[5mblink"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(document), encoding="utf-8")  # (ASCII: the surrogate as its escape)

    code, out, err = run(capsys, "show", path)
    assert code == 0 and err == ""
    assert "reply (assistant): red c1" in out and "next line \ufffd" in out
    assert "user: hi link" in out and "test: tests/test_m.py::test_blink" in out
    controls = [c for c in out if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]
    assert controls == []

    code, out, _ = run(capsys, "show", "--json", path)
    data = json.loads(out)
    assert data["reply"]["text"] == "red c1\n\tnext line \ufffd"
    assert not any(0x7F <= ord(c) <= 0x9F for c in out)


def test_a_recording_read_through_a_symlink_inside_the_directory_is_listed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "cassettes"
    good = _good(root / "shared")
    own = root / "tests" / "test_m" / "test_b"
    own.mkdir(parents=True)
    (own / good.name).symlink_to(Path("..", "..", "..", "shared", good.name))
    code, out, err = run(capsys, "verify", root)
    assert (code, err) == (0, "") and "2 recording(s) verified: no problems" in out
    assert CODEC.deserialize((own / good.name).read_text())["test_id"] == TEST
