"""When a test's recordings are saved, end to end (inner pytest runs against the local server).

All or nothing, and only when the test really passed: an interrupt (SIGINT), an error in fixture
setup or teardown, ``pytest.skip()``, xfail or xpass saves nothing and deletes nothing; a kill -9
during the save leaves the old set or the new one. Two tests never share a directory, a file of
another test is never replayed for this one, and ``llama-vcr prune`` keeps what tests read as
extra cassettes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llama_vcr import recording_files
from llama_vcr._store import STAGING_PREFIX
from llama_vcr.cli import main
from tests.fakes.server import FakeProviderServer

#: Each parameter of test_chat ends in its own way when FAIL=1 (otherwise every one passes).
WAYS = [
    "setup-error",
    "teardown-error",
    "late-teardown-error",
    "skip",
    "xfail",
    "xpass",
    "interrupt",
    "passes",
]

APP = f"""
import os, time
from pathlib import Path

import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")
PROMPTS = os.environ.get("PROMPTS", "a,b,c").split(",")
FAIL = os.environ.get("FAIL") == "1"


def ask(*prompts):
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    for prompt in prompts:
        messages = [{{"role": "user", "content": prompt}}]
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        assert reply.choices[0].message.content == f"Echo: {{prompt}}"


@pytest.fixture
def vcr_config(vcr_config, way):  # set up before the vcr fixture, torn down after it
    yield vcr_config
    if FAIL and way == "late-teardown-error":
        raise RuntimeError("a fixture torn down after the vcr fixture failed")


@pytest.fixture
def helper(way):  # set up after the vcr fixture, torn down before it
    if FAIL and way == "setup-error":
        ask("sent while setting up")
        raise RuntimeError("fixture setup failed")
    yield
    if FAIL and way == "teardown-error":
        raise RuntimeError("fixture teardown failed")


@pytest.mark.vcr
@pytest.mark.parametrize("way", {WAYS!r})
def test_chat(helper, request, way):
    if FAIL and way in ("xfail", "xpass"):
        request.applymarker(pytest.mark.xfail(reason="expected to fail", strict=False))
    ask(*PROMPTS)
    if not FAIL:
        return
    if way == "skip":
        pytest.skip("skipped after its requests")
    if way == "xfail":
        raise AssertionError("fails, as expected")
    if way == "interrupt":
        Path(os.environ["MARK"]).touch()
        for turn in range(600):  # the next turns are cut short by Ctrl-C (SIGINT)
            ask(f"more {{turn}}")
            time.sleep(0.05)
"""

#: Kills pytest (SIGKILL: no clean-up runs) in the middle of a save, at the point CRASH names.
CRASH_CONFTEST = """
import os, signal
from llama_vcr import _store

CRASH = os.environ.get("CRASH")
if CRASH == "staging":  # while the new set is being written beside the old one
    written = []
    real_write_new = _store.write._write_new

    def _write_new(path, data):
        written.append(path)
        if len(written) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        real_write_new(path, data)

    _store.write._write_new = _write_new
elif CRASH == "swap":  # the new set is complete (committed) but not yet swapped in
    _store.write._swap_in = lambda directory: os.kill(os.getpid(), signal.SIGKILL)
"""

#: Ctrl-C delivered by the default handler even if the parent ignores SIGINT.
INTERRUPTIBLE = (
    "import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.exit(pytest.main(sys.argv[1:]))"
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_app=APP)
    return pytester


def run(project: pytest.Pytester, mode: str, *args: str, base: str = "", **env: str) -> pytest.RunResult:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"LLAMA_VCR_TEST_BASE_URL": base, **env}.items():
            if value:
                mp.setenv(name, value)
        args = ("-p", "no:cacheprovider", f"--record-mode={mode}", *args)
        if "CRASH" in env:  # the inner run kills its own process: it must be a separate one
            return project.runpytest_subprocess(*args)
        return project.runpytest(*args)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in recording_files(directory)}


def chat_dir(project: pytest.Pytester, way: str) -> Path:
    return project.path / "cassettes" / "test_app" / f"test_chat[{way}]"


def leftovers(project: pytest.Pytester) -> list[str]:
    """Staging directories (and stray temporary files) anywhere in the project."""
    return sorted(
        str(path.relative_to(project.path))
        for path in project.path.rglob("*")
        if path.name.startswith((STAGING_PREFIX, ".tmp")) or path.name.endswith(".tmp")
    )


@pytest.fixture
def recorded(project: pytest.Pytester, provider_server: FakeProviderServer) -> dict[str, dict[str, bytes]]:
    """Every way of test_chat recorded with three prompts: the sets a later run must not damage."""
    run(project, "once", base=provider_server.base_url).assert_outcomes(passed=len(WAYS))
    sets = {way: snapshot(chat_dir(project, way)) for way in WAYS}
    assert all(len(files) == 3 for files in sets.values())
    return sets


# --- only a test that really passed saves -----------------------------------------------------------


def interrupt(project: pytest.Pytester, mode: str, base: str) -> None:
    """Run test_chat[interrupt] in ``mode``; send pytest SIGINT (Ctrl-C) in the middle of the test."""
    mark = project.path / "mark"
    env = {**os.environ, "LLAMA_VCR_TEST_BASE_URL": base, "FAIL": "1", "MARK": str(mark), "PROMPTS": "x,y"}
    command = [sys.executable, "-c", INTERRUPTIBLE, "-p", "no:cacheprovider", f"--record-mode={mode}"]
    command.append("test_app.py::test_chat[interrupt]")
    process = subprocess.Popen(
        command, cwd=project.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    while not mark.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # a few more requests are recorded
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 2 and "KeyboardInterrupt" in out, out


@pytest.mark.parametrize("mode", ["rewrite", "all", "new_episodes"])
def test_an_interrupted_re_record_saves_nothing_and_deletes_nothing(
    project: pytest.Pytester,
    provider_server: FakeProviderServer,
    recorded: dict[str, dict[str, bytes]],
    mode: str,
) -> None:
    interrupt(project, mode, provider_server.base_url)
    assert snapshot(chat_dir(project, "interrupt")) == recorded["interrupt"]
    assert leftovers(project) == []
    run(project, "none", "test_app.py::test_chat[interrupt]").assert_outcomes(passed=1)


def test_an_interrupted_new_test_saves_nothing(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    interrupt(project, "once", provider_server.base_url)
    assert not (project.path / "cassettes").exists() and leftovers(project) == []


def test_a_test_that_did_not_really_pass_saves_nothing(
    project: pytest.Pytester, provider_server: FakeProviderServer, recorded: dict[str, dict[str, bytes]]
) -> None:
    """An error in fixture setup, in the teardown of a fixture torn down before the vcr fixture or
    after it, pytest.skip(), xfail and xpass: a re-record keeps the old set; a new test gets none."""
    base, ways = provider_server.base_url, "not interrupt and not passes"
    outcome = {"passed": 2, "errors": 3, "skipped": 1, "xfailed": 1, "xpassed": 1}
    run(project, "rewrite", "-k", ways, base=base, PROMPTS="x,y", FAIL="1").assert_outcomes(**outcome)
    for way in WAYS:
        assert snapshot(chat_dir(project, way)) == recorded[way], way  # nothing replaced or removed
    shutil.rmtree(project.path / "cassettes")
    run(project, "once", "-k", ways, base=base, PROMPTS="x,y", FAIL="1").assert_outcomes(**outcome)
    assert not (project.path / "cassettes").exists() and leftovers(project) == []


def test_a_test_that_passes_saves_its_new_set_in_place(
    project: pytest.Pytester, provider_server: FakeProviderServer, recorded: dict[str, dict[str, bytes]]
) -> None:
    only = "test_app.py::test_chat[passes]"
    result = run(project, "rewrite", only, base=provider_server.base_url, PROMPTS="a,x", FAIL="1")
    result.assert_outcomes(passed=1)
    assert "llama-vcr: 0 replayed, 1 written, 2 removed" in result.stdout.str()
    files = snapshot(chat_dir(project, "passes"))
    assert len(files) == 2 and sum(data in recorded["passes"].values() for data in files.values()) == 1
    assert leftovers(project) == []
    run(project, "none", only, PROMPTS="a,x").assert_outcomes(passed=1)


def test_recordings_are_written_with_the_umask(
    project: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    old = os.umask(0o022)
    try:
        run(project, "once", "-k", "passes", base=provider_server.base_url).assert_outcomes(passed=1)
    finally:
        os.umask(old)
    directory = chat_dir(project, "passes")
    assert {stat.S_IMODE(path.stat().st_mode) for path in recording_files(directory)} == {0o644}
    assert stat.S_IMODE(directory.stat().st_mode) == 0o755


# --- kill -9 during the save ------------------------------------------------------------------------


PASSES = "test_app.py::test_chat[passes]"


def test_kill_9_while_the_new_set_is_written_keeps_the_old_set(
    project: pytest.Pytester, provider_server: FakeProviderServer, recorded: dict[str, dict[str, bytes]]
) -> None:
    project.makeconftest(CRASH_CONFTEST)
    base = provider_server.base_url
    result = run(project, "rewrite", PASSES, base=base, PROMPTS="x,y,z", CRASH="staging")
    assert result.ret == -signal.SIGKILL
    assert snapshot(chat_dir(project, "passes")) == recorded["passes"]
    assert leftovers(project) != []  # the half-written set is hidden beside the test's directory...
    run(project, "none", PASSES).assert_outcomes(passed=1)
    assert snapshot(chat_dir(project, "passes")) == recorded["passes"]
    assert leftovers(project) == []  # ...and removed by the next run


def test_kill_9_after_the_new_set_is_complete_puts_the_new_set_in_place(
    project: pytest.Pytester, provider_server: FakeProviderServer, recorded: dict[str, dict[str, bytes]]
) -> None:
    project.makeconftest(CRASH_CONFTEST)
    base = provider_server.base_url
    result = run(project, "rewrite", PASSES, base=base, PROMPTS="x,y,z", CRASH="swap")
    assert result.ret == -signal.SIGKILL
    run(project, "none", PASSES, PROMPTS="x,y,z").assert_outcomes(passed=1)  # the next run finishes the swap
    files = snapshot(chat_dir(project, "passes"))
    assert len(files) == 3 and not set(files.values()) & set(recorded["passes"].values())
    assert leftovers(project) == []


# --- two tests never share a directory --------------------------------------------------------------

COLLIDING = """
import os
import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")


@pytest.mark.vcr
@pytest.mark.parametrize("prompt", ["What is 2*3?", "What is 2-3?"])
def test_math(prompt):
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    messages = [{"role": "user", "content": prompt}]
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert reply.choices[0].message.content == f"Echo: {prompt}"


@pytest.mark.vcr
def test_plain():
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "plain"}])
"""


@pytest.fixture
def colliding(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_collide=COLLIDING)
    return pytester


def math_dirs(project: pytest.Pytester) -> dict[str, Path]:
    """test_math's directories, by the prompt their recording holds."""
    found: dict[str, Path] = {}
    for directory in sorted((project.path / "cassettes" / "test_collide").glob("test_math*")):
        for path in recording_files(directory):
            prompt = json.loads(path.read_text())["request"]["body"]["messages"][0]["content"]
            found[prompt] = directory
    return found


def test_ids_that_sanitise_alike_get_their_own_directories(
    colliding: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    for mode in ("once", "rewrite"):
        run(colliding, mode, base=provider_server.base_url).assert_outcomes(passed=3)
        dirs = math_dirs(colliding)
        assert set(dirs) == {"What is 2*3?", "What is 2-3?"} and len(set(dirs.values())) == 2
        assert all(len(recording_files(directory)) == 1 for directory in dirs.values())
        assert all(directory.name.startswith("test_math[What is 2-3-]-") for directory in dirs.values())
        # a name sanitising leaves alone is the name pytest-recording gives it
        assert (colliding.path / "cassettes" / "test_collide" / "test_plain").is_dir()
        run(colliding, "none").assert_outcomes(passed=3)


STAR = "test_collide.py::test_math[What is 2*3?]"


def test_recordings_under_the_old_shared_name_keep_working_when_they_are_one_tests(
    colliding: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    run(colliding, "once", base=provider_server.base_url).assert_outcomes(passed=3)
    # an existing tree, as llama-vcr wrote it before: only 2*3 was recorded, under the legacy name
    dirs = math_dirs(colliding)
    legacy = dirs["What is 2*3?"].with_name("test_math[What is 2-3-]")
    dirs["What is 2*3?"].rename(legacy)
    shutil.rmtree(dirs["What is 2-3?"])
    before = snapshot(legacy)
    result = run(colliding, "none", STAR)
    result.assert_outcomes(passed=1)
    run(colliding, "rewrite", STAR, base=provider_server.base_url).assert_outcomes(passed=1)
    assert snapshot(legacy).keys() == before.keys()  # re-recorded in place
    # the other test does not take it over: it records into its own directory
    run(colliding, "once", base=provider_server.base_url).assert_outcomes(passed=3)
    assert math_dirs(colliding)["What is 2*3?"] == legacy
    assert math_dirs(colliding)["What is 2-3?"].name.startswith("test_math[What is 2-3-]-")
    run(colliding, "none").assert_outcomes(passed=3)


def test_a_recording_of_another_test_is_not_replayed_nor_removed(
    colliding: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    run(colliding, "once", base=provider_server.base_url).assert_outcomes(passed=3)
    dirs = math_dirs(colliding)
    plain = colliding.path / "cassettes" / "test_collide" / "test_plain"
    [foreign] = recording_files(dirs["What is 2*3?"])
    shutil.copy(foreign, plain / foreign.name)
    result = run(colliding, "none", "-k", "test_plain")
    result.assert_outcomes(passed=1, warnings=1)
    out = result.stdout.str()
    assert "ForeignRecordingsWarning: llama-vcr: 1 recording(s) in" in out
    assert "test_collide.py::test_math[What is 2*3?]" in out
    # alone in the directory, it is not replayed for the test: a replay miss, not a silent replay
    [own] = [path for path in recording_files(plain) if path.name != foreign.name]
    own.unlink()
    run(colliding, "none", "-k", "test_plain").assert_outcomes(failed=1, warnings=1)
    # a re-record of the test leaves the other test's file alone
    run(colliding, "rewrite", "-k", "test_plain", base=provider_server.base_url).assert_outcomes(
        passed=1, warnings=1
    )
    assert (plain / foreign.name).read_bytes() == foreign.read_bytes()
    assert len(recording_files(plain)) == 2


def test_a_recording_without_a_test_id_still_replays(
    colliding: pytest.Pytester, provider_server: FakeProviderServer
) -> None:
    """llama-stack's own files may have ``test_id: null``: they are this test's."""
    run(colliding, "once", "-k", "test_plain", base=provider_server.base_url).assert_outcomes(passed=1)
    [path] = recording_files(colliding.path / "cassettes" / "test_collide" / "test_plain")
    document = json.loads(path.read_text())
    document["test_id"] = None
    path.write_text(json.dumps(document))
    run(colliding, "none", "-k", "test_plain", "-W", "error::UserWarning").assert_outcomes(passed=1)


# --- prune keeps what tests read as extra cassettes -------------------------------------------------

SOURCE = """
import os
import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")


def ask(prompt):
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    messages = [{"role": "user", "content": prompt}]
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert reply.choices[0].message.content == f"Echo: {prompt}"


@pytest.mark.vcr
def test_shared():
    ask("shared")


@pytest.mark.vcr
def test_gone():
    ask("gone")
"""

READERS = """
import openai
import pytest

from test_source import ask


@pytest.mark.vcr("../test_source/test_shared")
def test_reads_shared():
    ask("shared")
"""


def prune(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[int, str]:
    capsys.readouterr()  # (what the inner runs printed)
    code = main(["prune", *args, str(project / "cassettes"), "--rootdir", str(project)])
    out, _ = capsys.readouterr()
    return code, out


def test_prune_keeps_recordings_a_test_reads_as_an_extra_cassette(
    pytester: pytest.Pytester, provider_server: FakeProviderServer, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_source=SOURCE)
    run(pytester, "once", base=provider_server.base_url).assert_outcomes(passed=2)
    shared = pytester.path / "cassettes" / "test_source" / "test_shared"
    gone = pytester.path / "cassettes" / "test_source" / "test_gone"
    # both tests of test_source are gone; another module reads test_shared's recordings
    pytester.makepyfile(test_source=SOURCE.split("@pytest.mark.vcr")[0], test_readers=READERS)
    run(pytester, "none").assert_outcomes(passed=1)

    code, out = prune(capsys, pytester.path, "--json", "--yes")
    report = json.loads(out)
    assert code == 0, out
    assert [entry["test_id"] for entry in report["orphans"]] == ["test_source.py::test_gone"]
    assert len(report["kept_as_extra_cassettes"]) == 1
    assert recording_files(shared) and not gone.exists()
    run(pytester, "none").assert_outcomes(passed=1)


def test_prune_keeps_extra_cassettes_of_a_projects_own_cassette_dir(
    pytester: pytest.Pytester, provider_server: FakeProviderServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A project's own ``vcr_cassette_dir`` is known only by running it: a relative extra cassette
    is then matched by its end, and an absolute one as it is."""
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_source=SOURCE)
    run(pytester, "once", base=provider_server.base_url).assert_outcomes(passed=2)
    shared = pytester.path / "cassettes" / "test_source" / "test_shared"
    gone = pytester.path / "cassettes" / "test_source" / "test_gone"
    conftest = (
        "import os, pytest\n\n\n@pytest.fixture(scope='module')\ndef vcr_cassette_dir(request):\n"
        "    return os.path.join(str(request.config.rootpath), 'cassettes', request.module.__name__)\n"
    )
    pytester.makeconftest(conftest)
    absolute = READERS.replace('"../test_source/test_shared"', repr(str(gone)))
    pytester.makepyfile(
        test_source=SOURCE.split("@pytest.mark.vcr")[0],
        test_readers=READERS,
        test_absolute=absolute.replace('ask("shared")', 'ask("gone")').replace("test_reads_shared", "test_a"),
    )
    run(pytester, "none").assert_outcomes(passed=2)
    code, out = prune(capsys, pytester.path, "--json")
    report = json.loads(out)
    assert code == 0 and report["orphans"] == [], out
    assert len(report["kept_as_extra_cassettes"]) == 2
    assert recording_files(shared) and recording_files(gone)
