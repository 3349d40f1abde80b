"""The request path of a cassette (issue 13): vcrpy's ``before_record_request`` runs once per live
request, and entering a cassette does not retry importing libraries that are not installed.

vcrpy asks a cassette about one request up to four times (``can_play_response_for``,
``__contains__``, ``play_response``) and each time copies and filters it again; llama-vcr's
cassette filters it once, and again only if the request's method, URL, body or headers change.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
from vcr.request import Request

import llama_vcr
from llama_vcr._vcrpy import configure_vcr
from llama_vcr._vcrpy.cassette import PATCHER_MODULES, RecordingCassette, uninstalled_patchers
from tests.fakes.server import FakeProviderServer

AUTH = {"authorization": "Bearer sk-test"}


class Counting:
    """A user's ``before_record_request`` that counts the requests it sees."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, request: Any) -> Any:
        self.calls.append(request.uri)
        return None if "ignored" in request.uri else request


@contextmanager
def cassette(tmp_path: Path, *hooks: Any, mode: str = "none") -> Iterator[RecordingCassette]:
    """A test's cassette, entered as pytest-recording enters it, with the user's ``hooks`` after
    llama-vcr's redaction in ``before_record_request``."""
    machine = vcr.VCR(record_mode=mode)
    configure_vcr(machine, llama_vcr.CODEC, "t.py::t")
    (tmp_path / "t").mkdir(exist_ok=True)
    hook_list = [llama_vcr.CODEC.redactor.request, *hooks]
    with machine.use_cassette(str(tmp_path / "t"), before_record_request=hook_list) as entered:
        assert isinstance(entered, RecordingCassette)
        yield entered


def test_one_live_request_is_filtered_once_until_it_changes(tmp_path: Path) -> None:
    hook = Counting()
    with cassette(tmp_path, hook) as entered:
        filtered = entered._before_record_request
    request = Request("POST", "http://127.0.0.1:9/v1/chat?api_key=sk-secret-0123456789", b'{"a": 1}', {})
    first = filtered(request)
    assert filtered(request) is first and filtered(first) is first
    assert len(hook.calls) == 1 and "sk-secret" not in first.uri  # (the policy ran on the copy)
    assert first is not request and "sk-secret" in request.uri  # (the live request is left alone)
    request.body = b'{"a": 2}'
    second = filtered(request)
    assert second is not first and second.body == b'{"a": 2}' and len(hook.calls) == 2
    request.headers["x-extra"] = "1"  # (the same headers object, changed in place: not seen...)
    request.headers = {"x-other": "1"}  # (...but a new one is)
    assert filtered(request) is not second and len(hook.calls) == 3


def test_a_filtered_out_request_stays_filtered_out(tmp_path: Path) -> None:
    hook = Counting()
    with cassette(tmp_path, hook) as entered:
        filtered = entered._before_record_request
    request = Request("GET", "http://127.0.0.1:9/ignored", None, {})
    assert filtered(request) is None and filtered(request) is None
    assert len(hook.calls) == 1


def test_the_copy_a_filter_gets_can_be_changed_without_touching_the_request(tmp_path: Path) -> None:
    def mutate(request: Any) -> Any:
        request.headers["x-added"] = "yes"
        request.body = b"changed"
        return request

    with cassette(tmp_path, mutate) as entered:
        filtered = entered._before_record_request
    chunks = [b"a", b"b"]
    request = Request("POST", "http://127.0.0.1:9/v1/x", iter(chunks), {"content-type": "text/plain"})
    copy = filtered(request)
    assert copy.headers["x-added"] == "yes" and copy._body == b"changed"
    assert "x-added" not in request.headers and list(request.body) == chunks


@pytest.mark.parametrize("requests", [1, 3])
def test_replay_filters_each_request_once(
    tmp_path: Path, provider_server: FakeProviderServer, requests: int
) -> None:
    url = f"{provider_server.base_url}/chat/completions"
    bodies = [{"model": "m", "messages": [{"role": "user", "content": f"q{n}"}]} for n in range(requests)]
    with cassette(tmp_path, Counting(), mode="once"):
        for body in bodies:
            httpx.post(url, json=body, headers=AUTH).raise_for_status()
    hook = Counting()
    with cassette(tmp_path, hook):
        for body in bodies:
            assert httpx.post(url, json=body, headers=AUTH).status_code == 200
    # each loaded recording once (vcrpy filters what it loads), each live request once
    assert len(hook.calls) == 2 * requests


class _ImportSpy:
    """A ``sys.meta_path`` finder that notes every top-level import attempted and finds nothing."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        self.names.append(name.partition(".")[0])


def test_entering_a_cassette_does_not_retry_libraries_that_are_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vcrpy's patcher builder imports every library it knows at every cassette; one that is not
    installed (a failed import is never cached) is skipped through vcrpy's ``skip_patchers``."""
    missing = set(uninstalled_patchers())
    assert missing == {name for name, module in PATCHER_MODULES.items() if find_spec(module) is None}
    spy = _ImportSpy()
    monkeypatch.setattr(sys, "meta_path", [spy, *sys.meta_path])
    machine = vcr.VCR(record_mode="none")
    configure_vcr(machine, llama_vcr.CODEC, "t.py::t")
    (tmp_path / "t").mkdir()
    with machine.use_cassette(str(tmp_path / "t"), skip_patchers=["requests"]) as entered:
        assert set(entered.skip_patchers) == missing | {"requests"}  # (the user's own kept)
    tried = {PATCHER_MODULES[name] for name in missing} & set(spy.names)
    assert not tried, f"retried imports of {sorted(tried)}"


def test_a_stand_in_module_of_a_missing_library_leaves_it_to_vcrpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A suite that puts a bare module in ``sys.modules`` for a library it lacks (``find_spec``
    raises ``ValueError`` on it) still enters cassettes; vcrpy's own import decides, as before."""
    uninstalled_patchers.cache_clear()
    monkeypatch.setitem(sys.modules, "tornado", types.ModuleType("tornado"))
    try:
        assert "tornado" not in uninstalled_patchers()
        machine = vcr.VCR(record_mode="none")
        configure_vcr(machine, llama_vcr.CODEC, "t.py::t")
        (tmp_path / "t").mkdir()
        with machine.use_cassette(str(tmp_path / "t")):
            pass
    finally:
        uninstalled_patchers.cache_clear()
