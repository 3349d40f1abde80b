"""The store's file-system guarantees: a test's set of files is replaced all at once (a crash at any
point leaves the old set or the new one), written with the umask's permissions, and two tests never
get one directory name."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from llama_vcr import _store
from llama_vcr._store import (
    STAGING_PREFIX,
    belongs_to,
    directory_name,
    legacy_directory_name,
    recording_files,
    recover,
    replace_recordings,
    same_test,
    stage_recordings,
    write_atomically,
)

ROOT = Path(__file__).resolve().parents[2]
OLD = {"a.json": "a1", "b.json": "b1", "c.json": "c1"}
#: the new set: a.json kept, b.json changed, c.json dropped, d.json added
NEW = {"a.json": "a1", "b.json": "b2", "d.json": "d2"}


def contents(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in recording_files(directory)}


def leftovers(parent: Path) -> list[str]:
    return sorted(path.name for path in parent.rglob(f"{STAGING_PREFIX}*"))


def make_set(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


@pytest.fixture
def umask() -> Iterator[int]:
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


# --- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node_id", "legacy"),
    [
        ("tests/test_a.py::test_x", "test_x"),
        ("tests/test_a.py::TestK::test_x[1-a]", "TestK.test_x[1-a]"),
        ("test_a.py::test_x[hello world]", "test_x[hello world]"),
    ],
)
def test_a_name_sanitising_does_not_change_stays_as_pytest_recording_makes_it(
    node_id: str, legacy: str
) -> None:
    assert legacy_directory_name(node_id) == legacy
    assert directory_name(node_id) == legacy


def test_ids_that_sanitise_to_one_name_get_distinct_names() -> None:
    star, dash = "t.py::test_math[What is 2*3?]", "t.py::test_math[What is 2-3?]"
    assert legacy_directory_name(star) == legacy_directory_name(dash) == "test_math[What is 2-3-]"
    names = {directory_name(star), directory_name(dash)}
    assert len(names) == 2
    assert all(re.fullmatch(r"test_math\[What is 2-3-\]-[0-9a-f]{8}", name) for name in names)
    # the name does not depend on the rootdir, nor on the run
    assert directory_name("tests/unit/t.py::test_math[What is 2*3?]") == directory_name(star)


def test_tests_of_nested_classes_of_one_name_get_distinct_names() -> None:
    first, second = "t.py::TestA::TestInner::test_x", "t.py::TestB::TestInner::test_x"
    assert legacy_directory_name(first) == legacy_directory_name(second) == "TestInner.test_x"
    assert directory_name(first) != directory_name(second)
    assert directory_name(first).startswith("TestInner.test_x-")


def test_not_a_node_id_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a pytest node id"):
        directory_name("test_x")


def test_same_test_allows_another_rootdir_only() -> None:
    assert same_test("tests/test_a.py::test_x[1]", "tests/test_a.py::test_x[1]")
    assert same_test("test_a.py::test_x[1]", "tests/test_a.py::test_x[1]")
    assert same_test("tests/unit/test_a.py::test_x", "unit/test_a.py::test_x")
    assert not same_test("tests/test_a.py::test_x[What is 2*3?]", "tests/test_a.py::test_x[What is 2-3?]")
    assert not same_test("a/test_a.py::test_x", "b/test_a.py::test_x")
    assert not same_test("test_a.py::test_x", "test_b.py::test_x")


def test_belongs_to_checks_every_test_id(tmp_path: Path) -> None:
    directory = tmp_path / "t"
    assert not belongs_to(directory, "t.py::t")  # nothing there
    make_set(
        directory, {"a.json": json.dumps({"test_id": "t.py::t"}), "b.json": json.dumps({"test_id": None})}
    )
    assert belongs_to(directory, "t.py::t")
    (directory / "c.json").write_text(json.dumps({"test_id": "t.py::other"}))
    assert not belongs_to(directory, "t.py::t")


# --- stage, then swap -------------------------------------------------------------------------------


def test_a_staged_set_replaces_the_old_one_only_when_committed(tmp_path: Path) -> None:
    directory = tmp_path / "mod" / "test_x"
    make_set(directory, OLD)
    (directory / "notes.txt").write_text("not a recording")
    staged = stage_recordings(directory, {"b.json": "b2", "d.json": "d2"}, drop={"c.json"})
    assert staged is not None and (staged.written, staged.removed) == (2, 1)
    assert contents(directory) == OLD  # nothing changed yet
    assert contents(tmp_path / "mod") == {}  # the staging directory is hidden: never read as recordings
    kept_inode = (directory / "a.json").stat().st_ino
    staged.commit()
    assert contents(directory) == NEW
    assert (directory / "notes.txt").read_text() == "not a recording"  # other files are carried over
    assert (directory / "a.json").stat().st_ino == kept_inode  # a kept file is the same file
    assert leftovers(tmp_path) == []


def test_a_discarded_set_leaves_the_old_one_and_no_trace(tmp_path: Path) -> None:
    directory = tmp_path / "test_x"
    make_set(directory, OLD)
    staged = stage_recordings(directory, {"b.json": "b2"}, drop={"c.json"})
    assert staged is not None
    staged.discard()
    assert contents(directory) == OLD and leftovers(tmp_path) == []
    # a new test of a new module: the directories staging made are removed again
    staged = stage_recordings(tmp_path / "cassettes" / "mod" / "test_new", {"a.json": "a1"})
    assert staged is not None
    staged.discard()
    assert not (tmp_path / "cassettes").exists()


def test_nothing_is_staged_when_no_file_changes(tmp_path: Path) -> None:
    directory = tmp_path / "test_x"
    make_set(directory, OLD)
    assert stage_recordings(directory, {"a.json": "a1"}, drop={"missing.json"}) is None
    assert stage_recordings(tmp_path / "new_test", {}) is None
    assert not (tmp_path / "new_test").exists() and leftovers(tmp_path) == []


def test_a_set_that_becomes_empty_removes_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "test_x"
    make_set(directory, OLD)
    staged = stage_recordings(directory, {}, drop=set(OLD))
    assert staged is not None and staged.removed == 3
    staged.commit()
    assert not directory.exists() and leftovers(tmp_path) == []


def test_an_interrupt_while_staging_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "test_x"
    make_set(directory, OLD)
    real = _store.write._write_new
    calls: list[Path] = []

    def write_new(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(path, data)

    monkeypatch.setattr(_store.write, "_write_new", write_new)
    with pytest.raises(KeyboardInterrupt):
        stage_recordings(directory, {"b.json": "b2", "d.json": "d2"}, drop={"c.json"})
    assert contents(directory) == OLD and leftovers(tmp_path) == []


def test_files_and_directories_honour_the_umask(tmp_path: Path, umask: int) -> None:
    directory = tmp_path / "mod" / "test_x"
    staged = stage_recordings(directory, {"a.json": "a1"})
    assert staged is not None
    staged.commit()
    assert stat.S_IMODE((directory / "a.json").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(directory.stat().st_mode) == 0o777 & ~umask
    assert write_atomically(tmp_path / "single.json", "{}")
    assert stat.S_IMODE((tmp_path / "single.json").stat().st_mode) == 0o666 & ~umask
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


# --- crashes ----------------------------------------------------------------------------------------

CRASHER = textwrap.dedent(
    """
    import os, shutil, signal, sys
    from pathlib import Path
    from llama_vcr import _store

    directory, crash_at = Path(sys.argv[1]), int(sys.argv[2])
    steps = 0

    def step(function):
        def wrapper(*args, **kwargs):
            global steps
            steps += 1
            if steps == crash_at:
                os.kill(os.getpid(), signal.SIGKILL)  # kill -9: no clean-up code runs
            return function(*args, **kwargs)
        return wrapper

    # every file-system change a save makes is a step
    _store.write._write_new = step(_store.write._write_new)
    _store.write._carry = step(_store.write._carry)
    _store.write._remove_tree = step(_store.write._remove_tree)
    _store.write.os.rename = step(os.rename)
    _store.write.os.mkdir = step(os.mkdir)
    staged = _store.stage_recordings(directory, {"b.json": "b2", "d.json": "d2"}, drop={"c.json"})
    staged.commit()
    print(steps)
    """
)


def crash(directory: Path, at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CRASHER, str(directory), str(at)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_kill_9_at_any_point_of_a_save_leaves_the_old_set_or_the_new_one(tmp_path: Path) -> None:
    """The child is SIGKILLed before each file-system step of stage + commit in turn; whatever it
    leaves, the next run (``recover``) sees exactly the old set or exactly the new one, and no
    staging directory survives."""
    probe = tmp_path / "probe" / "test_x"
    make_set(probe, OLD)
    (probe / "notes.txt").write_text("kept")
    done = crash(probe, 0)
    assert done.returncode == 0, done.stderr
    total = int(done.stdout)
    assert total >= 8 and contents(probe) == NEW
    outcomes = []
    for at in range(1, total + 1):
        directory = tmp_path / str(at) / "test_x"
        make_set(directory, OLD)
        (directory / "notes.txt").write_text("kept")
        result = crash(directory, at)
        assert result.returncode == -signal.SIGKILL, (at, result.stderr)
        recover(directory)
        found = contents(directory)
        assert found in (OLD, NEW), (at, found, sorted(os.listdir(directory.parent)))
        assert (directory / "notes.txt").read_text() == "kept"
        assert leftovers(directory.parent) == [], at
        outcomes.append("old" if found == OLD else "new")
    assert "old" in outcomes and "new" in outcomes  # the crash points span the commit point


def test_recover_finishes_a_swap_cut_short_and_cleans_stale_staging(tmp_path: Path) -> None:
    directory = tmp_path / "test_x"
    new, old, temporary = _store.write._staging(directory)
    make_set(directory, OLD)
    make_set(new, NEW)  # committed, not yet swapped in
    make_set(temporary, {"x.json": "half"})
    recover(directory)
    assert contents(directory) == NEW and leftovers(tmp_path) == []
    # the old set moved aside, the new one not yet in place
    directory.rename(new)
    make_set(old, OLD)
    recover(directory)
    assert contents(directory) == NEW and leftovers(tmp_path) == []
    # the swap finished; only the old set's removal was cut short
    make_set(old, OLD)
    recover(directory)
    assert contents(directory) == NEW and leftovers(tmp_path) == []
    # the old set alone: it is put back (never lost)
    directory.rename(old)
    recover(directory)
    assert contents(directory) == NEW and leftovers(tmp_path) == []


def test_recover_leaves_other_tests_alone(tmp_path: Path) -> None:
    mine, other = tmp_path / "test_x", tmp_path / "test_y"
    _, _, staging = _store.write._staging(other)
    make_set(staging, {"x.json": "half"})
    recover(mine)
    assert staging.is_dir()
    recover(other)
    assert not staging.exists()


SAVER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from llama_vcr._store import replace_recordings

    directory, name, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    while not go.exists():
        time.sleep(0.001)
    for round in range(20):  # each save carries the others' files over: none may be lost
        replace_recordings(directory, {f"{name}-{round}.json": name})
    """
)


def test_concurrent_saves_into_one_directory_lose_nothing(tmp_path: Path) -> None:
    """pytest-xdist workers saving tests that share a directory (``default_cassette``)."""
    directory, go = tmp_path / "mod" / "shared", tmp_path / "go"
    savers = [
        subprocess.Popen([sys.executable, "-c", SAVER, str(directory), f"w{n}", str(go)], cwd=ROOT)
        for n in range(4)
    ]
    go.touch()
    assert [saver.wait(timeout=120) for saver in savers] == [0] * 4
    assert len(recording_files(directory)) == 4 * 20
    assert leftovers(tmp_path) == []


def test_replace_recordings_creates_nothing_when_there_is_nothing_to_write(tmp_path: Path) -> None:
    assert replace_recordings(tmp_path / "mod" / "test_x", {}, drop={"a.json"}) == (0, 0)
    assert not (tmp_path / "mod").exists()
    assert replace_recordings(tmp_path / "mod" / "test_x", {"a.json": "a1"}) == (1, 0)
    assert replace_recordings(tmp_path / "mod" / "test_x", {"a.json": "a1"}) == (0, 0)
    assert replace_recordings(tmp_path / "mod" / "test_x", {"b.json": "b1"}, drop={"a.json"}) == (1, 1)
    assert contents(tmp_path / "mod" / "test_x") == {"b.json": "b1"}


@pytest.mark.parametrize("length", [200, 245, 246, 247, 300])
def test_long_names_are_shortened_exactly_as_pytest_recording_shortens_them(length: int) -> None:
    """An upgraded project finds recordings pytest-recording named (its ``use_cassette`` rule)."""
    import hashlib

    from pytest_recording._vcr import MAX_FILENAME_LEN

    from llama_vcr._fixtures import _as_pytest_recording_stores
    from llama_vcr._vcrpy import SERIALIZER_NAME

    name = "test_q[What is the capital of France- " + "x" * length + "]"
    suffix = SERIALIZER_NAME  # what pytest-recording measures: the serializer name
    expected = name
    if len(name) + len(suffix) > MAX_FILENAME_LEN:
        digest = hashlib.md5(name.encode()).hexdigest()
        expected = f"{name[: MAX_FILENAME_LEN - len(suffix) - len(digest) - 3]}...{digest}"
    assert _as_pytest_recording_stores(name) == expected
