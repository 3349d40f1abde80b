"""The near-miss reporter: closest recording and a diff by JSON path."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from vcr.request import Request

from llama_vcr._canonical import canonical_request
from llama_vcr._report import body_diff, closest, render_diff


def canonical(body: dict, path: str = "/v1/chat/completions", method: str = "POST"):  # type: ignore[no-untyped-def]
    return canonical_request(Request(method, f"http://h{path}", json.dumps(body).encode(), {}))


def test_body_diff_lists_paths_with_recorded_and_sent_values() -> None:
    recorded = {"model": "a", "messages": [{"role": "user", "content": "hi"}], "n": 1}
    sent = {"model": "a", "messages": [{"role": "user", "content": "ho"}, {"role": "user"}], "t": 0.5}
    missing = list(body_diff(recorded, sent))
    assert [(p, r, s) for p, r, s in missing if p == "$.messages[0].content"] == [
        ("$.messages[0].content", "hi", "ho")
    ]
    assert {p for p, _, _ in missing} == {"$.messages[0].content", "$.messages[1]", "$.n", "$.t"}


def test_closest_prefers_the_same_endpoint_then_the_most_similar_body() -> None:
    sent = canonical(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "what is the capital of France"}]}
    )
    other_endpoint = canonical(
        {"model": "gpt-4o", "input": "what is the capital of France"}, "/v1/embeddings"
    )
    far = canonical({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "x"}], "tools": []})
    near = canonical(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "what is the capital of Spain"}]}
    )
    assert closest(sent, [other_endpoint, far, near]) is near
    assert closest(sent, []) is None


def test_render_shows_long_strings_as_a_compact_word_diff() -> None:
    words = " ".join(f"w{i}" for i in range(40))
    recorded = canonical({"messages": [{"content": words}]})
    sent = canonical({"messages": [{"content": words.replace("w20", "CHANGED")}]})
    [line] = render_diff(recorded, sent)
    assert "$.messages[0].content" in line and "[-w20-]" in line and "{+CHANGED+}" in line
    assert len(line) < 200


def test_render_reports_an_endpoint_change() -> None:
    lines = render_diff(canonical({}, "/v1/completions"), canonical({}))
    assert lines == ["    request: recorded POST /v1/completions"]


def test_a_miss_message_stays_small_whatever_the_body_size() -> None:
    """A 3 MB inline image in the sent body (or the recorded one) gives a message of a few KB."""
    from pathlib import Path

    from llama_vcr._report import MAX_MESSAGE, miss_message

    image = "data:image/png;base64," + "iVBORw0KGgo" * 300_000
    sent = canonical({"model": "m", "messages": [{"role": "user", "content": image + "A"}]})
    recorded = canonical({"model": "m", "messages": [{"role": "user", "content": image + "B"}]})
    many = [canonical({"model": "m", f"k{i}": "x" * 5000}) for i in range(30)]
    for near in ([(recorded, "a.json")], [(r, None) for r in many]):
        message = miss_message(
            sent, near, test_id="t.py::t", directory=Path("c"), has_files=True, extra_paths=(), mode="none"
        )
        assert len(message) <= MAX_MESSAGE
        assert message.startswith("llama-vcr: no recording matches POST /v1/chat/completions")
        assert "--record-mode=new_episodes" in message  # the advice survives the cap


@given(st.text(alphabet="ab c", max_size=40), st.text(alphabet="ab c", max_size=40))
def test_a_text_diff_shows_every_change_between_the_common_ends(recorded: str, sent: str) -> None:
    from llama_vcr._report import _common_prefix, _text_diff

    shorter = min(len(recorded), len(sent))
    prefix = next((i for i in range(shorter) if recorded[i] != sent[i]), shorter)
    assert _common_prefix(recorded, sent) == prefix
    diff = _text_diff(recorded, sent)
    if recorded != sent:
        assert "[-" in diff or "{+" in diff
