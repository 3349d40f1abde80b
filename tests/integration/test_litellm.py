"""litellm end to end (issue 10, class 1): ``litellm.completion`` and ``litellm.acompletion``
against the local fake server as an OpenAI-compatible ``api_base``, recorded, then replayed with
no server. litellm's async calls go through aiohttp (its default transport), its sync ones through
the OpenAI SDK's httpx2. Skipped when litellm is not installed (it is in the ``test`` extra).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.server import FakeProviderServer
from tests.providers.support import API_KEY, OFFLINE_URL, cassette

MESSAGES = [{"role": "user", "content": "Which planet has rings?"}]
#: litellm's own types warn as pydantic builds them (``ReadOnly`` TypedDict items): not ours.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydantic._internal._generate_schema")


@pytest.fixture
def litellm(monkeypatch: pytest.MonkeyPatch) -> Any:
    """litellm, imported with its bundled model cost map (it would fetch one from GitHub)."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return pytest.importorskip("litellm")


@pytest.fixture
def aiohttp_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs requested through ``aiohttp.ClientSession.request`` (vcrpy patches ``_request``)."""
    calls: list[str] = []
    request = aiohttp.ClientSession.request

    @functools.wraps(request)
    def spy(self: aiohttp.ClientSession, method: str, url: Any, **kwargs: Any) -> Any:
        calls.append(str(url))
        return request(self, method, url, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "request", spy)
    return calls


def _arguments(root: str, stream: bool) -> dict[str, Any]:
    return {
        "model": "openai/gpt-4o-mini",
        "api_base": root + "/v1",
        "api_key": API_KEY,
        "messages": MESSAGES,
        "stream": stream,
    }


def sync_calls(litellm: Any, root: str) -> tuple[str, list[str | None]]:
    """A completion's text and a streamed completion's delta texts, through ``litellm.completion``."""
    reply = litellm.completion(**_arguments(root, False))
    chunks = [chunk.choices[0].delta.content for chunk in litellm.completion(**_arguments(root, True))]
    return reply.choices[0].message.content, chunks


def async_calls(litellm: Any, root: str) -> tuple[str, list[str | None]]:
    """:func:`sync_calls` through ``litellm.acompletion``."""

    async def main() -> tuple[str, list[str | None]]:
        reply = await litellm.acompletion(**_arguments(root, False))
        stream = await litellm.acompletion(**_arguments(root, True))
        return reply.choices[0].message.content, [chunk.choices[0].delta.content async for chunk in stream]

    return asyncio.run(main())


def record_then_replay(
    directory: Path, calls: Callable[[str], tuple[str, list[str | None]]]
) -> tuple[Any, Any]:
    with FakeProviderServer() as server, cassette(directory, "once"):
        live = calls(server.url)
    assert len(server.hits) == 2 and len(list(directory.glob("*.json"))) == 2
    with cassette(directory, "none") as cass:
        replayed = calls(OFFLINE_URL)
        assert cass.all_played, "some recordings were not replayed"
    return live, replayed


def test_completion_records_and_replays(tmp_path: Path, litellm: Any) -> None:
    live, replayed = record_then_replay(tmp_path, functools.partial(sync_calls, litellm))
    text, chunks = live
    assert "rings" in text and "".join(c for c in chunks if c) == text
    assert replayed == live


def test_acompletion_records_and_replays_through_aiohttp(
    tmp_path: Path, litellm: Any, aiohttp_calls: list[str]
) -> None:
    live, replayed = record_then_replay(tmp_path, functools.partial(async_calls, litellm))
    text, chunks = live
    assert "rings" in text and "".join(c for c in chunks if c) == text
    assert replayed == live
    assert [url.endswith("/v1/chat/completions") for url in aiohttp_calls] == [True] * 4
