"""Tolerant matching end to end: inner pytest runs record through the real OpenAI SDK against the
local server, then replay with no server while the test sends API-default-equivalent bodies.

- exact (the default): a body that only adds ``n: 1`` or ``user: null`` is a replay miss;
- ``llama_vcr_match = tolerant`` (or ``tolerant_body`` in ``match_on``): it replays, the test's
  report gets a "llama-vcr tolerated differences" section (path, recorded vs sent), the session
  summary counts it, and nothing is warned (``filterwarnings = error`` stays green);
- a meaningful value (``n: 2``, another temperature) still misses; the stored files are untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.server import FakeProviderServer

SUITE = """
import os
import openai
import pytest

BASE = os.environ.get("LLAMA_VCR_TEST_BASE_URL", "http://127.0.0.1:9/v1")
EXTRA = eval(os.environ.get("EXTRA", "{}"))
MESSAGES = [{"role": "user", "content": "hi"}]


def client():
    return openai.OpenAI(base_url=BASE, api_key="sk-tolerant-0123456789abcdef", max_retries=0)


@pytest.mark.vcr
def test_chat():
    reply = client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **EXTRA)
    assert reply.choices[0].message.content == "Echo: hi"


VARIANTS = {"n": dict(n=2), "temperature": dict(temperature=0.5), "user": dict(user="alice"),
            "stream": dict(stream=True)}


@pytest.mark.vcr
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant(variant):
    extra = VARIANTS[variant] if os.environ.get("VARY") else {}
    reply = client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **extra)
    assert reply.choices[0].message.content == "Echo: hi"


@pytest.mark.vcr(match_on=["method", "endpoint", "tolerant_body"])
def test_chat_tolerant_marker():
    reply = client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **EXTRA)
    assert reply.choices[0].message.content == "Echo: hi"
"""

INI = "[pytest]\nfilterwarnings = error\n"


@pytest.fixture
def suite(
    pytester: pytest.Pytester, provider_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLAMA_VCR_TEST_BASE_URL", provider_server.base_url)
        pytester.runpytest("-p", "no:cacheprovider", "--record-mode=once").assert_outcomes(passed=6)
    return pytester


def replay(suite: pytest.Pytester, extra: str, *args: str, vary: bool = False) -> pytest.RunResult:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXTRA", extra)
        if vary:
            mp.setenv("VARY", "1")
        return suite.runpytest("-p", "no:cacheprovider", "--record-mode=none", "-rfEP", *args)


def stored(suite: pytest.Pytester) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted((suite.path / "cassettes").rglob("*.json"))}


EQUIVALENT = "dict(n=1, stream=False, temperature=1, user=None, metadata=None)"


def test_exact_matching_misses_a_default_equivalent_body(suite: pytest.Pytester) -> None:
    result = replay(suite, EQUIVALENT, "-k", "test_chat and not marker")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*no recording matches POST /v1/chat/completions*", "*$.n: recorded (absent), sent 1*"]
    )


def test_tolerant_ini_option_replays_and_reports_what_it_tolerated(suite: pytest.Pytester) -> None:
    before = stored(suite)
    suite.makeini(INI + "llama_vcr_match = tolerant\n")
    result = replay(suite, EQUIVALENT, "-k", "chat")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    section = out.split("llama-vcr tolerated differences", 1)[1].split("\n_", 1)[0].splitlines()
    assert section[1].startswith("POST /v1/chat/completions replayed ")
    assert section[1].endswith(".json by tolerant matching:")
    assert sorted(section[2:7]) == [
        "    $.metadata: recorded (absent), sent null",
        "    $.n: recorded (absent), sent 1",
        "    $.stream: recorded (absent), sent false",
        "    $.temperature: recorded (absent), sent 1",
        "    $.user: recorded (absent), sent null",
    ]
    result.stdout.fnmatch_lines(
        ["llama-vcr: 2 replayed, 0 written, 0 removed, 0 unused, 0 expired, 2 tolerated"]
    )
    assert "warning" not in out.lower()
    assert stored(suite) == before


def test_tolerant_body_in_match_on_is_per_test(suite: pytest.Pytester) -> None:
    result = replay(suite, EQUIVALENT, "-k", "chat")
    result.assert_outcomes(passed=1, failed=1)  # test_chat is exact, the marked test tolerant
    result.stdout.fnmatch_lines(["FAILED test_suite.py::test_chat - llama-vcr: no recording matches*"])
    result.stdout.fnmatch_lines(["llama-vcr: 1 replayed, *, 1 tolerated"])


def test_tolerant_matching_never_tolerates_a_meaningful_value(suite: pytest.Pytester) -> None:
    suite.makeini(INI + "llama_vcr_match = tolerant\n")
    result = replay(suite, "{}", "-k", "variant", vary=True)
    result.assert_outcomes(failed=4)  # n: 2, temperature: 0.5, user: "alice", stream: true
    assert "tolerated" not in result.stdout.str()


def test_identical_replays_report_nothing_in_tolerant_mode(suite: pytest.Pytester) -> None:
    suite.makeini(INI + "llama_vcr_match = tolerant\n")
    result = replay(suite, "{}")
    result.assert_outcomes(passed=6)
    assert "tolerated" not in result.stdout.str()


def test_an_unknown_match_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI + "llama_vcr_match = fuzzy\n")
    pytester.makepyfile(test_suite=SUITE)
    result = replay(pytester, "{}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llama_vcr_match must be exact or tolerant, not 'fuzzy'*"])


def test_an_exact_recording_answers_before_a_tolerated_one(tmp_path: Path) -> None:
    """Two recordings the tolerant form cannot tell apart: each request gets its own exact one."""
    import json

    import openai

    from llama_vcr import recording_files
    from tests.providers.support import make_vcr

    match_on = ("method", "endpoint", "tolerant_body")
    messages = [{"role": "user", "content": "q"}]
    with FakeProviderServer() as server, make_vcr("once").use_cassette(str(tmp_path), match_on=match_on):
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-x", max_retries=0)
        client.chat.completions.create(model="m", messages=messages, n=1)  # type: ignore[arg-type]
        client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    for path in recording_files(tmp_path):  # each recording answers with which request it was
        document = json.loads(path.read_text(encoding="utf-8"))
        answer = "with n" if "n" in document["request"]["body"] else "without n"
        document["response"]["body"]["__data__"]["choices"][0]["message"]["content"] = answer
        path.write_text(json.dumps(document), encoding="utf-8")
    with make_vcr("none").use_cassette(str(tmp_path), match_on=match_on):
        client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-x", max_retries=0)
        without = client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        with_n = client.chat.completions.create(model="m", messages=messages, n=1)  # type: ignore[arg-type]
    assert (without.choices[0].message.content, with_n.choices[0].message.content) == ("without n", "with n")
