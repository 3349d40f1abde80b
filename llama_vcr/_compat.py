"""Files llama-stack's own recorder wrote, read as llama-vcr recordings.

llama-stack records at the SDK level, so a few of its files describe the HTTP exchange loosely;
:func:`from_llama_stack` rewrites those in memory (never on disk) into what went over the wire.
"""

from __future__ import annotations

from typing import Any

from ._types import DATA_KEY, TYPE_KEY

#: Endpoints llama-stack recorded as ``POST {}`` although the SDK sends ``GET`` with no body.
_LISTINGS = ("/models", "/api/tags", "/api/ps")


class NotReplayableError(ValueError):
    """A recording of something that is not an HTTP exchange (e.g. a tool runtime call)."""


def from_llama_stack(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as llama-vcr reads it; files llama-vcr wrote (with ``response.status``) pass as is."""
    request, response = document["request"], document["response"]
    if "status" in response and "payload" not in request:
        return document
    if "url" not in request or "method" not in request:
        kind = f" ({request['provider_name']}.{request['tool_name']})" if "tool_name" in request else ""
        raise NotReplayableError(f"not an HTTP recording: a llama-stack tool runtime call{kind}")
    request = dict(request)
    response = dict(response)
    if "payload" in request:  # raw httpx/aiohttp recordings: {test_id, url, method, payload}
        request["body"] = request.pop("payload")
    request.setdefault("headers", {})
    endpoint = request.get("endpoint") or ""
    if request["method"] == "POST" and request.get("body") == {} and endpoint.endswith(_LISTINGS):
        request["method"], request["body"] = "GET", None
    body = response.get("body")
    if response.get("is_exception"):
        error = response.get("exception_data") or {}
        response["status"] = int(error.get("status_code") or 500)
        detail = error.get("body") or {"message": response.get("exception_message") or error.get("message")}
        response["body"] = {"error": detail}
    elif not response.get("is_streaming") and isinstance(body, list) and all(TYPE_KEY in b for b in body):
        response["body"] = {"object": "list", "data": body}  # model lists were stored as bare lists
    elif isinstance(body, dict) and DATA_KEY not in body and "status" in response:
        response["headers"] = {"content-type": "application/json", **response.get("headers", {})}
    return {**document, "request": request, "response": response}
