"""Files llama-stack's own recorder wrote, read as llama-vcr recordings.

llama-stack records at the SDK level, so a few of its files describe the HTTP exchange loosely;
:func:`from_llama_stack` rewrites those in memory (never on disk) into what went over the wire.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .envelopes import DATA_KEY, TYPE_KEY

#: Endpoints llama-stack recorded as ``POST {}`` although the SDK sends ``GET`` with no body.
_LISTINGS = ("/models", "/api/tags", "/api/ps")


class NotReplayableError(ValueError):
    """A recording of something that is not an HTTP exchange (e.g. a tool runtime call)."""


def _wire_path(url_path: str, recorded_endpoint: str | None, endpoint: str) -> str:
    """The path that went over the wire. llama-stack built ``url`` as the client's base URL + an
    ``endpoint`` starting with ``/v1`` (``…/inference/v1/v1/chat/completions``), while the SDK sent
    base URL + the path after ``/v1``: keep the base's prefix, drop the endpoint's ``/v1``."""
    if not recorded_endpoint or not url_path.endswith(recorded_endpoint):
        return url_path if endpoint == recorded_endpoint else endpoint
    prefix = url_path[: len(url_path) - len(recorded_endpoint)]
    return prefix + (endpoint.removeprefix("/v1") if endpoint.startswith("/v1/") else endpoint)


def from_llama_stack(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as llama-vcr reads it; files llama-vcr wrote (with ``response.status``) pass as is."""
    request, response = document["request"], document["response"]
    if "status" in response and "payload" not in request:
        return document
    if "url" not in request or "method" not in request:
        provider = request.get("provider") or request.get("provider_name")
        kind = f" ({provider}.{request['tool_name']})" if "tool_name" in request else ""
        raise NotReplayableError(f"not an HTTP recording: a llama-stack tool runtime call{kind}")
    parts = urlsplit(request["url"])
    if not parts.scheme and not request["url"].startswith("/"):  # a host placeholder: "__databricks__/..."
        parts = urlsplit("https://" + request["url"])
    if parts.scheme not in ("http", "https"):
        raise NotReplayableError(
            f"not an HTTP recording: a {parts.scheme or 'non-HTTP'} SDK call ({request['url']})"
        )
    request = dict(request)
    response = dict(response)
    if "payload" in request:  # raw httpx/aiohttp recordings: {test_id, url, method, payload}
        request["body"] = request.pop("payload")
    request.setdefault("headers", {})
    body = request.get("body")
    if isinstance(body, dict) and "extra_body" in body:  # SDK kwargs: the SDK merges extra_body in
        body = {k: v for k, v in body.items() if k != "extra_body"} | (body.get("extra_body") or {})
        request["body"] = body
    endpoint = request.get("endpoint") or parts.path
    if (
        endpoint.endswith("/completions")
        and not endpoint.endswith("/chat/completions")
        and isinstance(body, dict)
        and "messages" in body
    ):
        endpoint = endpoint[: -len("/completions")] + "/chat/completions"  # llama-stack's pre-#3013 files
    if endpoint == "/api/embeddings" and isinstance(body, dict) and "input" in body:
        endpoint = "/api/embed"  # recorded under the legacy path, sent by ollama's embed()
    request["url"] = urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            _wire_path(parts.path, request.get("endpoint"), endpoint),
            parts.query,
            "",
        )
    )
    request["endpoint"] = endpoint
    if request["method"] == "POST" and body == {} and endpoint.endswith(_LISTINGS):
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
