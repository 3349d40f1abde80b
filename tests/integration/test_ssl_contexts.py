"""Replay skips the SSL context a client builds and never uses (issue 13; ``_vcrpy.ssl_contexts``).

While a cassette only replays, the httpx / httpx2 clients a test makes share one SSL context per
configuration; a cassette that may record, a client made outside a cassette, and a context the
caller passes keep the library's own behaviour. The shared context is configured as a fresh one.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import vcr

import llama_vcr
from llama_vcr._vcrpy import configure_vcr
from llama_vcr._vcrpy.ssl_contexts import shared_context_factory
from tests.fakes.server import FakeProviderServer

Client = Callable[..., Any]
CLIENTS: dict[str, Client] = {"httpx": httpx.Client, "httpx2": httpx2.Client}


def context_of(client: Any) -> ssl.SSLContext:
    return client._transport._pool._ssl_context  # type: ignore[no-any-return]


def described(context: ssl.SSLContext) -> tuple[Any, ...]:
    """What a test could read of a context's configuration."""
    return (
        context.verify_mode,
        context.check_hostname,
        context.protocol,
        context.options,
        context.cert_store_stats(),
        sorted(cert["serialNumber"] for cert in context.get_ca_certs()),
    )


def recorder(tmp_path: Path, mode: str, *, share: bool = True) -> vcr.VCR:
    machine = vcr.VCR(record_mode=mode)
    persister = configure_vcr(machine, llama_vcr.CODEC, "t.py::t")
    persister.share_ssl_contexts = share
    (tmp_path / "t").mkdir(exist_ok=True)
    return machine


@pytest.mark.parametrize("library", sorted(CLIENTS))
def test_clients_made_while_replaying_share_a_context_configured_as_a_fresh_one(
    tmp_path: Path, library: str
) -> None:
    make = CLIENTS[library]
    fresh = context_of(make())
    with recorder(tmp_path, "none").use_cassette(str(tmp_path / "t")):
        first, second = make(), make()
        unverified = make(verify=False)
        assert context_of(first) is context_of(second)
        assert described(context_of(first)) == described(fresh)
        assert context_of(unverified) is not context_of(first)
        assert context_of(unverified).verify_mode == ssl.CERT_NONE
    with recorder(tmp_path, "none").use_cassette(str(tmp_path / "t")):  # the next test: the same one
        assert context_of(make()) is context_of(first)
    assert context_of(make()) is not context_of(first)  # outside a cassette: the library's own


@pytest.mark.parametrize("mode", ["once", "new_episodes", "all"])
def test_a_cassette_that_may_record_builds_every_context(tmp_path: Path, mode: str) -> None:
    with recorder(tmp_path, mode).use_cassette(str(tmp_path / "t")):
        assert context_of(httpx2.Client()) is not context_of(httpx2.Client())


def test_sharing_can_be_turned_off(tmp_path: Path) -> None:
    with recorder(tmp_path, "none", share=False).use_cassette(str(tmp_path / "t")):
        assert context_of(httpx2.Client()) is not context_of(httpx2.Client())


def test_a_context_the_caller_passes_is_used_as_given(tmp_path: Path) -> None:
    own = ssl.create_default_context()
    with recorder(tmp_path, "none").use_cassette(str(tmp_path / "t")):
        assert context_of(httpx2.Client(verify=own)) is own
        assert context_of(httpx.Client(verify=own)) is own


def test_the_key_follows_the_ca_variables_the_library_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any, bool]] = []

    def real(verify: Any = True, cert: Any = None, trust_env: bool = True) -> object:
        calls.append((verify, cert, trust_env))
        return object()

    create = shared_context_factory(real)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    default = create()
    assert create() is default and create(verify=True, trust_env=True) is default
    assert create(trust_env=False) is not default
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    with_file = create()
    assert with_file is not default and create() is with_file
    assert create(trust_env=False) is create(trust_env=False)  # (trust_env=False reads no variable)
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    assert create() is not with_file
    certified = [create(cert="client.pem"), create(cert="client.pem")]  # never shared
    assert certified[0] is not certified[1]
    assert create(verify="ca.pem") is not create(verify="ca.pem")
    assert len(calls) == 8  # (the 2nd trust_env=False was shared)
    keyed = create()
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "keys.log"))  # (read whatever trust_env says)
    assert create() is not keyed and create(trust_env=False) is not create(trust_env=True)


def test_the_shared_context_logs_keys_where_a_fresh_one_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    log = str(tmp_path / "keys.log")
    with recorder(tmp_path, "none").use_cassette(str(tmp_path / "t")):
        httpx.Client()
        monkeypatch.setenv("SSLKEYLOGFILE", log)
        shared = context_of(httpx.Client())
    assert shared.keylog_filename == context_of(httpx.Client()).keylog_filename == log


@pytest.mark.parametrize(("inner", "share"), [("new_episodes", True), ("none", False)])
def test_a_nested_cassette_that_may_record_or_does_not_share_builds_every_context(
    tmp_path: Path, inner: str, share: bool
) -> None:
    (tmp_path / "inner").mkdir()
    with recorder(tmp_path, "none").use_cassette(str(tmp_path / "t")):
        with recorder(tmp_path, inner, share=share).use_cassette(str(tmp_path / "inner")):
            assert context_of(httpx2.Client()) is not context_of(httpx2.Client())
        assert context_of(httpx2.Client()) is context_of(httpx2.Client())  # (the outer's again)


SUITE = """
import os
import openai
import pytest

BASE = os.environ["LLAMA_VCR_TEST_BASE_URL"]
SEEN = []


@pytest.mark.vcr
@pytest.mark.parametrize("n", [1, 2])
def test_chat(n):
    client = openai.OpenAI(base_url=BASE, api_key="sk-x", max_retries=0)
    SEEN.append(client._client._transport._pool._ssl_context)  # (kept alive: ids stay distinct)
    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Echo: hi"


def test_contexts():
    print("CONTEXTS", len(SEEN), len({id(context) for context in SEEN}))
"""


@pytest.mark.parametrize(("ini", "replay_contexts"), [("", 1), ("llama_vcr_share_ssl_contexts = false\n", 2)])
def test_the_plugin_shares_contexts_in_replay_mode_only(
    pytester: pytest.Pytester,
    provider_server: FakeProviderServer,
    monkeypatch: pytest.MonkeyPatch,
    ini: str,
    replay_contexts: int,
) -> None:
    pytester.makeini("[pytest]\n" + ini)
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("LLAMA_VCR_TEST_BASE_URL", provider_server.base_url)
    recorded = pytester.runpytest("-p", "no:cacheprovider", "-s", "--record-mode=once")
    recorded.assert_outcomes(passed=3)
    recorded.stdout.fnmatch_lines(["*CONTEXTS 2 2*"])
    replayed = pytester.runpytest("-p", "no:cacheprovider", "-s", "--record-mode=none")
    replayed.assert_outcomes(passed=3)
    replayed.stdout.fnmatch_lines([f"*CONTEXTS 2 {replay_contexts}*"])
