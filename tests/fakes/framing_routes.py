"""Servers that frame or route answers oddly: a wrong Content-Type, or a redirect first.

A client whose root URL is `<server.url>/framing/<label>` (an OpenAI `base_url` of
`<server.url>/framing/<label>/v1`, an Ollama `host` of `<server.url>/framing/<label>`) gets:

- label `x-ndjson`, `json`, `plain`, `event-stream`: the regular routes' replies, streamed or not,
  under `Content-Type` `application/x-ndjson`, `application/json`, `text/plain` or
  `text/event-stream` whatever their framing (LitServe serves SSE as `application/x-ndjson`);
- label `307` or `308`: that redirect, with an empty body and `location` the same path without
  the `/framing/<label>` prefix (so the client follows it to the regular route).
"""

from __future__ import annotations

import dataclasses
import re

from .common import Reply

PREFIX = "/framing/"
CONTENT_TYPES = {
    "x-ndjson": "application/x-ndjson",
    "json": "application/json",
    "plain": "text/plain",
    "event-stream": "text/event-stream",
}
REDIRECTS = ("307", "308")
_PATH = re.compile(r"/framing/(?P<label>[^/]+)(?P<rest>/.*)")


def split(path: str) -> tuple[str, str | None]:
    """`/framing/<label>/<rest>` -> (`/<rest>`, label); any other path -> (path, None)."""
    match = _PATH.fullmatch(path)
    if match is None or match["label"] not in (*CONTENT_TYPES, *REDIRECTS):
        return path, None
    return match["rest"], match["label"]


def redirect(label: str | None, path: str) -> Reply | None:
    """The redirect a `307`/`308` label answers with (to `path`), else None."""
    if label not in REDIRECTS:
        return None
    return Reply(status=int(label), body=b"", content_type="text/plain", headers={"location": path})


def relabel(reply: Reply, label: str | None) -> Reply:
    """`reply` under the Content-Type a label names (unchanged for other labels)."""
    content_type = CONTENT_TYPES.get(label or "")
    return reply if content_type is None else dataclasses.replace(reply, content_type=content_type)
