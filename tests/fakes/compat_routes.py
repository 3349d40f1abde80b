"""OpenAI-compatible servers that leave fields out: the OpenAI routes served under `/compat/v1`.

Servers that speak OpenAI's wire format (vLLM, Ollama's `/v1`, llama-stack's own Responses API)
do not send every field OpenAI's SDK types declare required. The openai SDK builds its objects
from such payloads all the same (openai/_models.py `construct_type` validates nothing), so a
recording must type them too. A client whose `base_url` is `<server.url>/compat/v1` gets the
replies of the regular routes with these fields left out (`lenient`), non-stream and streamed:

- chat completions and their chunks: `object`, `system_fingerprint`, `service_tier`, `usage`;
- Responses API objects (alone, or inside `response.*` stream events): `parallel_tool_calls`,
  `tool_choice`, `tools`, `temperature`, `top_p`, `metadata`; `output_text` parts and text
  events: `logprobs`.

Error replies are left as they are.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from typing import Any

from .common import JSON, Reply, dumps

#: Path prefix of the lenient server (its clients' `base_url` is the server's url + `/compat/v1`).
PREFIX = "/compat/"
CHAT_OMITTED = ("object", "system_fingerprint", "service_tier", "usage")
RESPONSE_OMITTED = ("parallel_tool_calls", "tool_choice", "tools", "temperature", "top_p", "metadata")
_CHAT_OBJECTS = ("chat.completion", "chat.completion.chunk")


def applies(path: str) -> bool:
    """Whether a request path is one of the lenient server's."""
    return path.startswith(PREFIX)


def lenient(reply: Reply) -> Reply:
    """`reply` with the fields `compat_routes` documents left out (errors unchanged)."""
    if reply.status >= 400:
        return reply
    if reply.stream is not None:
        return dataclasses.replace(reply, stream=_frames(reply.stream))
    if isinstance(reply.body, dict):
        return dataclasses.replace(reply, body=_strip(reply.body))
    return reply


def _frames(frames: Iterable[bytes]) -> Iterator[bytes]:
    """Each Server-Sent Event with its JSON `data:` stripped (`[DONE]` and other text kept)."""
    for frame in frames:
        lines = []
        for line in frame.decode("utf-8").split("\n"):
            if line.startswith("data: ") and line[6:].startswith("{"):
                line = "data: " + dumps(_strip(json.loads(line[6:])))
            lines.append(line)
        yield "\n".join(lines).encode("utf-8")


def _strip(value: Any) -> Any:
    if isinstance(value, list):
        return [_strip(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: JSON = {key: _strip(item) for key, item in value.items()}
    omitted: tuple[str, ...] = ()
    if "choices" in out and (out.get("object") in _CHAT_OBJECTS):
        omitted = CHAT_OMITTED
    elif out.get("object") == "response":
        omitted = RESPONSE_OMITTED
    elif out.get("type") in ("output_text", "response.output_text.delta", "response.output_text.done"):
        omitted = ("logprobs",)
    for key in omitted:
        out.pop(key, None)
    return out
