"""A recording's ``__type__`` is resolved only inside an allowlist of SDK packages.

A recording is data from a pull request: a ``__type__`` naming any importable module made
replay and ``llama-vcr verify`` import (execute) it, e.g. a ``.py`` hidden under ``cassettes/``
(``shared/cases/attack-01-type-imports``). Each module these tests write creates a marker file
when imported, so "it was never imported" is checked by the marker's absence.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion

from llama_vcr import CODEC, RecordingError, RecordingPersister, recording_name, revive
from llama_vcr.format import envelopes
from llama_vcr.format.envelopes import (
    DEFAULT_TYPE_PACKAGES,
    TYPE_PACKAGES_ENV,
    DisallowedTypeError,
    UnknownTypeError,
    allow_type_packages,
    allowed_type_packages,
    check_type,
    envelope,
    import_type,
    resolve,
)

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Echo: hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}

#: What a planted module does when it is imported: leave a trace, and look harmless.
PAYLOAD = """\
import pathlib
pathlib.Path({marker!r}).write_text("imported")
from collections import OrderedDict
from openai.types.chat.chat_completion import ChatCompletion
import pydantic


class Reply(pydantic.BaseModel):
    text: str
"""


@dataclass
class Planted:
    """A module on ``sys.path`` that writes ``marker`` when imported."""

    name: str
    marker: Path

    @property
    def ran(self) -> bool:
        return self.marker.exists()


def plant(directory: Path, marker: Path, dotted: str) -> None:
    """Write module ``dotted`` (``pkg.sub`` makes a package whose ``__init__`` and ``sub`` both run it)."""
    *packages, leaf = dotted.split(".")
    where = directory
    for package in packages:
        where = where / package
        where.mkdir(exist_ok=True)
        (where / "__init__.py").write_text(PAYLOAD.format(marker=str(marker)))
    (where / f"{leaf}.py").write_text(PAYLOAD.format(marker=str(marker)))


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Planted:
    """An importable top-level module with a fresh name (nothing is cached under it)."""
    name = f"planted_{uuid.uuid4().hex[:12]}"
    modules = tmp_path / "modules"
    modules.mkdir()
    planted = Planted(name, tmp_path / "marker")
    plant(modules, planted.marker, name)
    monkeypatch.syspath_prepend(str(modules))
    assert importlib.util.find_spec(name) is not None  # importable: only the allowlist stops it
    assert not planted.ran
    return planted


@pytest.fixture
def registered() -> Iterator[None]:
    """Packages registered in a test are forgotten after it (registration is process-wide)."""
    saved = envelopes._registered
    yield
    envelopes._registered = saved


def document_with_body(body: Any, *, test_id: str | None = None) -> dict[str, Any]:
    return {
        "test_id": test_id,
        "request": {
            "method": "POST",
            "url": "http://127.0.0.1:9/v1/chat/completions",
            "headers": {"content-type": "application/json"},
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            "endpoint": "/v1/chat/completions",
            "model": "gpt-4o-mini",
        },
        "response": {"body": body, "is_streaming": isinstance(body, list), "status": 200},
    }


def write_recording(directory: Path, body: Any, *, test_id: str | None = None) -> Path:
    document = document_with_body(body, test_id=test_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / recording_name(document)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def load(directory: Path) -> list[Any]:
    _, responses = RecordingPersister(CODEC).load_cassette(str(directory), CODEC)
    return responses


# --- loading a recording ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    ["body", "stream", "page"],
)
def test_loading_a_recording_that_names_a_module_outside_the_sdks_fails_without_importing_it(
    planted: Planted, tmp_path: Path, shape: str
) -> None:
    type_name = f"{planted.name}.ChatCompletion"
    value = {"__type__": type_name, "__data__": COMPLETION}
    body: Any = {
        "body": value,
        "stream": [
            {"__type__": "openai.types.chat.chat_completion.ChatCompletion", "__data__": COMPLETION},
            value,
        ],
        "page": {"object": "list", "data": [value]},
    }[shape]
    path = write_recording(tmp_path / "t", body)

    with pytest.raises(RecordingError) as info:
        load(tmp_path / "t")

    assert info.value.path == path and str(path) in str(info.value)
    assert info.value.problem.startswith(
        f"response.body.__type__ {type_name!r} is not in an allowed SDK package"
    )
    assert "(openai, anthropic, ollama, llama_stack, llama_stack_client)" in info.value.problem
    assert not planted.ran
    assert planted.name not in sys.modules


def test_a_dotted_name_does_not_import_its_parent_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``find_spec("pkg.sub")`` would import ``pkg``: the allowlist is checked before any lookup."""
    name = f"planted_pkg_{uuid.uuid4().hex[:12]}"
    marker = tmp_path / "marker"
    (tmp_path / "modules").mkdir()
    plant(tmp_path / "modules", marker, f"{name}.fixtures")
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))
    path = write_recording(
        tmp_path / "t", {"__type__": f"{name}.fixtures.ChatCompletion", "__data__": COMPLETION}
    )

    with pytest.raises(RecordingError, match=r"__type__ .* is not in an allowed SDK package") as info:
        load(tmp_path / "t")

    assert info.value.path == path
    assert not marker.exists() and name not in sys.modules


def test_the_stdlib_is_not_an_sdk(tmp_path: Path) -> None:
    """``this`` prints the Zen of Python when imported: any non-SDK module is refused, not only files."""
    sys.modules.pop("this", None)
    write_recording(tmp_path / "t", {"__type__": "this.X", "__data__": COMPLETION})
    with pytest.raises(RecordingError, match=r"response\.body\.__type__ 'this\.X' is not in an allowed"):
        load(tmp_path / "t")
    assert "this" not in sys.modules


@pytest.mark.parametrize(
    ("type_name", "problem"),
    [
        ("openai.__builtins__.eval", "names the private or dunder attribute '__builtins__'"),
        ("openai.__main__.ChatCompletion", "names the private or dunder attribute '__main__'"),
        ("openai.types.chat.ChatCompletion.__class__", "names the private or dunder attribute '__class__'"),
        ("openai.types.chat.ChatCompletion._private", "names the private attribute '_private'"),
        ("openai.types model.Model", "is not a dotted class name"),
        ("openai..Model", "is not a dotted class name"),
        ("openai.types.model.Model\n", "is not a dotted class name"),
        ("\uff4fpenai.types.model.Model", "is not a dotted class name"),  # a fullwidth look-alike "o"
        ("openai", "is not a dotted class name"),
    ],
)
def test_names_that_are_not_plain_public_sdk_names_are_refused(
    tmp_path: Path, type_name: str, problem: str
) -> None:
    path = write_recording(tmp_path / "t", {"__type__": type_name, "__data__": COMPLETION})
    with pytest.raises(RecordingError) as info:
        load(tmp_path / "t")
    assert info.value.path == path
    assert info.value.problem.startswith("response.body.__type__ ") and problem in info.value.problem


@pytest.mark.parametrize("type_name", [["openai.types.model.Model"], {"a": 1}, 3])
def test_a_type_that_is_not_a_string_is_a_load_error(tmp_path: Path, type_name: Any) -> None:
    path = write_recording(tmp_path / "t", {"__type__": type_name, "__data__": COMPLETION})
    with pytest.raises(
        RecordingError, match=r"response\.body\.__type__ .* is not a dotted class name"
    ) as info:
        load(tmp_path / "t")
    assert info.value.path == path


def test_an_sdk_name_still_loads_and_an_allowed_sdk_that_is_not_installed_replays_as_plain_json(
    tmp_path: Path,
) -> None:
    missing = [package for package in DEFAULT_TYPE_PACKAGES if importlib.util.find_spec(package) is None]
    if not missing:
        pytest.skip("every allowed SDK is installed here")
    write_recording(
        tmp_path / "t",
        [
            {"__type__": "openai.types.chat.chat_completion.ChatCompletion", "__data__": COMPLETION},
            {"__type__": f"{missing[0]}.types.Thing", "__data__": {"a": 1}},
        ],
    )
    [response] = load(tmp_path / "t")
    stream = response["body"]["string"]
    assert b"Echo: hi" in stream and b'"a"' in stream


def test_an_sdk_module_re_exporting_a_foreign_class_does_not_make_it_an_sdk_class(
    planted: Planted, registered: None
) -> None:
    allow_type_packages(planted.name)
    problem = check_type(f"{planted.name}.OrderedDict")  # `from collections import OrderedDict`
    assert problem is not None and "is not a class of the SDK package" in problem
    assert check_type(f"{planted.name}.Reply") is None


# --- registering packages -----------------------------------------------------------------------


def test_a_registered_package_is_resolved(planted: Planted, registered: None, tmp_path: Path) -> None:
    type_name = f"{planted.name}.Reply"
    with pytest.raises(DisallowedTypeError):
        import_type(type_name)
    assert not planted.ran

    allow_type_packages(planted.name)

    assert planted.name in allowed_type_packages()
    write_recording(tmp_path / "t", {"__type__": type_name, "__data__": {"text": "hi"}})
    assert len(load(tmp_path / "t")) == 1
    assert planted.ran  # registered: the user said it may be imported
    revived = revive({"__type__": type_name, "__data__": {"text": "hi"}})
    assert type(revived).__name__ == "Reply" and revived.text == "hi"


def test_a_registered_subpackage_allows_only_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registered: None
) -> None:
    name = f"planted_pkg_{uuid.uuid4().hex[:12]}"
    (tmp_path / "modules").mkdir()
    plant(tmp_path / "modules", tmp_path / "marker", f"{name}.sdk")
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))
    allow_type_packages(f"{name}.sdk")
    assert check_type(f"{name}.other.Reply") is not None
    assert check_type(f"{name}.Reply") is not None
    assert not (tmp_path / "marker").exists()
    assert check_type(f"{name}.sdk.Reply") is None


def test_packages_from_the_environment(planted: Planted, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TYPE_PACKAGES_ENV, f"  other_sdk, {planted.name}\n bad-name ")
    assert allowed_type_packages() == (*DEFAULT_TYPE_PACKAGES, "other_sdk", planted.name)
    assert check_type(f"{planted.name}.Reply") is None
    monkeypatch.delenv(TYPE_PACKAGES_ENV)
    assert check_type(f"{planted.name}.Reply") is not None  # (no stale cached answer)


@pytest.mark.parametrize("name", ["", "a b", "__main__", "pkg.__init__", "os/path", "a..b", 3])
def test_only_plain_package_names_can_be_registered(name: Any, registered: None) -> None:
    with pytest.raises(ValueError, match="not a package name"):
        allow_type_packages(name)
    assert allowed_type_packages() == DEFAULT_TYPE_PACKAGES


# --- revive (llama-vcr show) --------------------------------------------------------------------


def test_revive_never_imports_an_unallowed_type(planted: Planted) -> None:
    value = {"__type__": f"{planted.name}.ChatCompletion", "__data__": COMPLETION}
    assert revive(value) == COMPLETION
    assert revive([value]) == [COMPLETION]
    with pytest.raises(UnknownTypeError, match="is not in an allowed SDK package"):
        revive(value, strict=True)
    assert envelope(COMPLETION, f"{planted.name}.ChatCompletion") == COMPLETION
    assert not planted.ran


def test_sdk_classes_and_unions_still_revive() -> None:
    revived = revive({"__type__": "openai.types.chat.chat_completion.ChatCompletion", "__data__": COMPLETION})
    assert isinstance(revived, ChatCompletion)
    event = {"type": "message_stop"}
    union = "anthropic.types.raw_message_stream_event.RawMessageStreamEvent"
    assert resolve(union, event).__name__ == "RawMessageStopEvent"
    assert check_type("ollama._types.GenerateResponse") is None  # a private *module* is fine


# --- llama-vcr verify ---------------------------------------------------------------------------


def run_verify(*paths: Path, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), os.environ.get("PYTHONPATH", "")])}
    env.pop(TYPE_PACKAGES_ENV, None)
    return subprocess.run(
        [sys.executable, "-m", "llama_vcr", "verify", *map(str, paths)],
        cwd=cwd,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_verify_reports_an_unallowed_type_without_importing_it(tmp_path: Path) -> None:
    """The attack as filed: a "helper" hidden in cassettes/, importable as a namespace package."""
    marker = tmp_path / "marker"
    (tmp_path / "cassettes").mkdir()
    plant(tmp_path, marker, "cassettes._shared_fixtures")
    (tmp_path / "cassettes" / "__init__.py").unlink()  # a namespace package, as in the report
    type_name = "cassettes._shared_fixtures.ChatCompletion"
    path = write_recording(
        tmp_path / "cassettes" / "test_chat" / "test_chat",
        {"__type__": type_name, "__data__": COMPLETION},
        test_id="test_chat.py::test_chat",
    )

    result = run_verify(Path("cassettes"), cwd=tmp_path, pythonpath=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    shown = path.relative_to(tmp_path)
    assert f"{shown}: response.body.__type__ {type_name!r} is not in an allowed SDK package" in result.stdout
    assert "1 problem(s) in 1 of 1 recording(s)" in result.stderr
    assert not marker.exists()


def test_verify_allows_packages_named_in_the_environment(planted: Planted, tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    write_recording(recordings, {"__type__": f"{planted.name}.Reply", "__data__": {"text": "hi"}})
    modules = tmp_path / "modules"

    result = run_verify(recordings, cwd=tmp_path, pythonpath=modules)
    assert result.returncode == 1 and "is not in an allowed SDK package" in result.stdout
    assert not planted.ran

    with mock.patch.dict(os.environ, {TYPE_PACKAGES_ENV: planted.name}):
        env_result = subprocess.run(
            [sys.executable, "-m", "llama_vcr", "verify", str(recordings)],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(modules), "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
    assert env_result.returncode == 0, env_result.stdout + env_result.stderr
    assert planted.ran


# --- the pytest plugin ----------------------------------------------------------------------------

PLUGIN_TEST = """
import pytest


@pytest.mark.vcr
def test_chat():
    pass
"""


def test_replay_refuses_the_planted_type_and_the_ini_option_allows_a_package(
    pytester: pytest.Pytester,
) -> None:
    root = pytester.path
    marker = root / "marker"
    (root / "cassettes").mkdir()
    plant(root, marker, "cassettes._shared_fixtures")
    (root / "cassettes" / "__init__.py").unlink()
    pytester.makepyfile(test_chat=PLUGIN_TEST)
    directory = root / "cassettes" / "test_chat" / "test_chat"
    planted = write_recording(
        directory, {"__type__": "cassettes._shared_fixtures.ChatCompletion", "__data__": COMPLETION}
    )

    pytester.makeini("[pytest]\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--record-mode=none")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot load recording*is not in an allowed SDK package*"])
    assert not marker.exists()

    planted.unlink()
    write_recording(directory, {"__type__": "mysdk.types.Reply", "__data__": {"text": "hi"}})
    sdk = root / "mysdk"
    sdk.mkdir()
    (sdk / "__init__.py").write_text("")
    (sdk / "types.py").write_text("import pydantic\n\nclass Reply(pydantic.BaseModel):\n    text: str\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--record-mode=none")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*'mysdk.types.Reply' is not in an allowed SDK package*"])

    pytester.makeini("[pytest]\nllama_vcr_type_packages =\n    mysdk\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--record-mode=none")
    result.assert_outcomes(passed=1)

    pytester.makeini("[pytest]\nllama_vcr_type_packages = not-a-package\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--record-mode=none")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llama_vcr_type_packages: not a package name: 'not-a-package'*"])


# --- properties: an unallowed name never reaches importlib ----------------------------------------


@contextmanager
def no_imports() -> Iterator[None]:
    """Fail if anything calls importlib's import or spec lookup, or a module is added."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"importlib was called with {args!r}")

    before = set(sys.modules)
    with (
        mock.patch.object(importlib, "import_module", refuse),
        mock.patch.object(importlib.util, "find_spec", refuse),
    ):
        yield
    assert set(sys.modules) == before


_IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
#: A name that looks close to an allowed package but is not one ("openai_x", "OpenAI", "llama").
_NEAR_MISS = st.one_of(
    st.sampled_from(DEFAULT_TYPE_PACKAGES).flatmap(
        lambda p: st.sampled_from([p + "_", p + "x", p.upper(), p[:-1], "_" + p, p.capitalize()])
    ),
    st.just("llama"),
)
_TOP = st.one_of(_IDENT, _NEAR_MISS).filter(lambda top: top not in DEFAULT_TYPE_PACKAGES)
_UNALLOWED = st.builds(
    lambda top, rest: ".".join([top, *rest]), _TOP, st.lists(_IDENT, min_size=1, max_size=5)
)


def _is_allowed_prefix(name: str) -> bool:
    return any(name.startswith(p + ".") for p in DEFAULT_TYPE_PACKAGES)


@settings(max_examples=300, deadline=None)
@given(type_name=_UNALLOWED)
def test_a_dotted_name_outside_the_allowlist_never_reaches_importlib(type_name: str) -> None:
    value = {"__type__": type_name, "__data__": {"type": "x"}}
    with no_imports():
        problem = check_type(type_name)
        with pytest.raises(DisallowedTypeError):
            import_type(type_name)
        with pytest.raises(DisallowedTypeError):
            resolve(type_name, {"type": "x"})
        assert revive(value) == {"type": "x"}
        with pytest.raises(UnknownTypeError):
            revive(value, strict=True)
        assert envelope({"type": "x"}, type_name) == {"type": "x"}
    assert problem == (
        f"response.body.__type__ {type_name!r} is not in an allowed SDK package"
        f" ({', '.join(DEFAULT_TYPE_PACKAGES)}); it was not imported. If the package is your own, allow"
        " it with the llama_vcr_type_packages ini option ($LLAMA_VCR_TYPE_PACKAGES for llama-vcr verify);"
        " otherwise the recording was tampered with"
    )


@settings(max_examples=300, deadline=None)
@given(type_name=st.one_of(st.text(max_size=40), st.from_regex(r"[\w.\s\-/:]{0,40}", fullmatch=True)))
def test_any_string_outside_the_allowlist_is_a_problem_and_never_imported(type_name: str) -> None:
    if _is_allowed_prefix(type_name):
        return
    with no_imports():
        problem = check_type(type_name)
        assert revive({"__type__": type_name, "__data__": 1}) == 1
    assert problem is not None and problem.startswith("response.body.__type__ ")


@settings(max_examples=200, deadline=None)
@given(
    package=st.sampled_from(DEFAULT_TYPE_PACKAGES),
    before=st.lists(_IDENT, max_size=3),
    dunder=_IDENT.map(lambda s: f"__{s}"),
    after=st.lists(_IDENT, max_size=2),
)
def test_a_dunder_segment_in_an_sdk_name_is_refused_before_importing(
    package: str, before: list[str], dunder: str, after: list[str]
) -> None:
    type_name = ".".join([package, *before, dunder, *after, "X"])
    with no_imports():
        problem = check_type(type_name)
        with pytest.raises(DisallowedTypeError):
            import_type(type_name)
    assert problem is not None and "private or dunder attribute" in problem


@settings(max_examples=100, deadline=None)
@given(
    value=st.one_of(
        st.none(), st.integers(), st.lists(st.text(max_size=3)), st.dictionaries(st.text(), st.integers())
    )
)
def test_a_type_that_is_not_a_string_is_a_problem(value: Any) -> None:
    with no_imports():
        problem = check_type(value)
        assert revive({"__type__": value, "__data__": {"a": 1}}) == {"a": 1}
    assert problem is not None and "is not a dotted class name" in problem
