"""Response headers through the real SDKs: what a test reads with ``with_raw_response`` live comes
back on replay (normalised where it is volatile), and the SDKs' retry logic sees ``retry-after``
on a replayed 429, over real sockets to the local fake server and with no server on replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from llama_vcr import recording_files
from tests.fakes.headers import ANTHROPIC_LIMITS, OPENAI_LIMITS
from tests.fakes.server import FakeProviderServer
from tests.providers.support import API_KEY, OFFLINE_URL, cassette, documents, record_then_replay

CHAT = [{"role": "user", "content": "Hello headers"}]
RATE_LIMITS = [
    f"x-ratelimit-{part}-{kind}" for part in ("limit", "remaining", "reset") for kind in OPENAI_LIMITS
]


def _openai_raw(root: str) -> dict[str, Any]:
    client = openai.OpenAI(base_url=root + "/v1", api_key=API_KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=CHAT)
    return {
        "headers": {
            name: raw.headers.get(name) for name in [*RATE_LIMITS, "openai-processing-ms", "openai-version"]
        },
        "cookie": raw.headers.get("set-cookie"),
        "request_id": raw.request_id,
        "content": raw.parse().choices[0].message.content,
    }


def test_openai_raw_response_headers_read_live_come_back_on_replay(
    tmp_path: Path, recording_schema: Any
) -> None:
    run = record_then_replay(tmp_path / "t", _openai_raw, recording_schema)
    live, replayed = run.live, run.replayed
    # live: what the server sent, fresh counters and durations
    assert int(live["headers"]["x-ratelimit-remaining-requests"]) < OPENAI_LIMITS["requests"]
    assert int(live["headers"]["openai-processing-ms"]) > 0 and live["cookie"]
    assert live["headers"]["x-ratelimit-reset-requests"].endswith("ms")
    # replay: the same headers, the volatile ones at fixed values of the same shape
    assert replayed["headers"] == {
        "x-ratelimit-limit-requests": str(OPENAI_LIMITS["requests"]),
        "x-ratelimit-limit-tokens": str(OPENAI_LIMITS["tokens"]),
        "x-ratelimit-remaining-requests": str(OPENAI_LIMITS["requests"]),
        "x-ratelimit-remaining-tokens": str(OPENAI_LIMITS["tokens"]),
        "x-ratelimit-reset-requests": "0s",
        "x-ratelimit-reset-tokens": "0s",
        "openai-processing-ms": "0",
        "openai-version": "2020-10-01",
    }
    assert replayed["cookie"] is None and replayed["content"] == live["content"]
    assert live["request_id"].startswith("req_") and replayed["request_id"].startswith("req_rec-")
    [document] = run.docs
    stored = document["response"]["headers"]
    assert list(stored) == sorted(stored)
    assert not {"set-cookie", "openai-organization", "openai-project", "cf-ray", "date"} & set(stored)


def test_anthropic_raw_response_rate_limits_come_back_on_replay(
    tmp_path: Path, recording_schema: Any
) -> None:
    names = [
        f"anthropic-ratelimit-{kind}-{part}" for kind in ANTHROPIC_LIMITS for part in ("limit", "remaining")
    ]

    def scenario(root: str) -> dict[str, Any]:
        client = anthropic.Anthropic(base_url=root, api_key=API_KEY, max_retries=0)
        raw = client.messages.with_raw_response.create(model="claude-test", max_tokens=9, messages=CHAT)
        reset = raw.headers.get("anthropic-ratelimit-requests-reset")
        return {"counts": {name: int(raw.headers[name]) for name in names}, "reset": reset}

    run = record_then_replay(tmp_path / "t", scenario, recording_schema)
    counts = run.live["counts"]
    assert {k: v for k, v in counts.items() if k.endswith("-limit")} == {
        f"anthropic-ratelimit-{kind}-limit": limit for kind, limit in ANTHROPIC_LIMITS.items()
    }
    assert any(v < ANTHROPIC_LIMITS["requests"] for k, v in counts.items() if k.endswith("-remaining"))
    assert run.replayed["counts"] == {name: ANTHROPIC_LIMITS[name[20:].rsplit("-", 1)[0]] for name in names}
    assert run.live["reset"] != run.replayed["reset"] == "1970-01-01T00:00:00Z"


def test_rerecording_against_a_server_with_fresh_headers_changes_no_byte(
    tmp_path: Path, recording_schema: Any
) -> None:
    texts = []
    for attempt in ("first", "second"):
        directory = tmp_path / attempt / "t"
        with FakeProviderServer() as server, cassette(directory, "once"):
            _openai_raw(server.url)
        documents(directory, recording_schema)
        texts.append([path.read_bytes() for path in recording_files(directory)])
    assert texts[0] == texts[1]


@pytest.mark.parametrize(
    ("sdk", "headers", "wait"),
    [
        ("openai", {"retry-after": "7"}, 7.0),
        ("openai", {"retry-after-ms": "2500"}, 2.5),
        ("anthropic", {"retry-after": "3"}, 3.0),
        ("anthropic", {"retry-after-ms": "1500"}, 1.5),
    ],
)
def test_the_sdk_waits_what_a_replayed_429_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sdk: str, headers: dict[str, str], wait: float
) -> None:
    slept: list[float] = []
    module = openai if sdk == "openai" else anthropic
    monkeypatch.setattr(module._base_client.time, "sleep", slept.append)  # (no real waiting)

    def scenario(root: str) -> str:
        if sdk == "openai":
            client = openai.OpenAI(base_url=root + "/v1", api_key=API_KEY, max_retries=1)
            return str(
                client.chat.completions.create(model="gpt-4o-mini", messages=CHAT).choices[0].message.content
            )
        claude = anthropic.Anthropic(base_url=root, api_key=API_KEY, max_retries=1)
        return str(claude.messages.create(model="claude-test", max_tokens=9, messages=CHAT).content[0].text)

    directory = tmp_path / "t"
    with FakeProviderServer() as server, cassette(directory, "once"):
        server.queue_error(429, "Slow down", headers, error_type="rate_limit_error")
        live = scenario(server.url)
        assert len(server.hits) == 2
    assert slept == [wait]
    stored = [path.read_text() for path in recording_files(directory)]
    assert len(stored) == 2 and sum(f'"{next(iter(headers))}"' in text for text in stored) == 1
    slept.clear()
    with cassette(directory, "none") as cass:
        assert scenario(OFFLINE_URL) == live
        assert cass.all_played
    assert slept == [wait]  # without the header the SDK would back off ~0.5-1 s, at random
