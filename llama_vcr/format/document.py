"""The recording document as Python types: TypedDicts that mirror ``recording.schema.json``.

One recording file holds one :class:`RecordingDocument`. ``tests/unit/test_document.py`` checks
that these types and the JSON Schema name the same fields and the same required ones. Field
meanings are documented in ``docs/recording-format.md``; the envelope and marker shapes of a
stored body are in :mod:`llama_vcr.format.envelopes` and :mod:`llama_vcr.format.wire`.
"""

from typing import Any, Literal, NotRequired

# (no ``from __future__ import annotations``: TypedDict reads NotRequired at runtime)
from typing_extensions import TypedDict

#: A stored body value: plain JSON, a ``{"__type__", "__data__"}`` envelope, ``{"__text__": str}``,
#: ``{"__bytes__": base64}``, a model list page with typed items, or (streams) a list of chunks.
StoredBody = Any


class RecordedRequest(TypedDict):
    """``request``: what was sent, redacted and in canonical form."""

    method: str
    #: The URL as sent (secret query values redacted).
    url: str
    #: Request headers kept by the allowlist (lower-case names).
    headers: dict[str, Any]
    #: The canonical JSON body, ``{"__multipart__": [...]}``, ``{"__bytes__": ...}``, text or null.
    body: Any
    #: The URL path the request hash is computed over (llama-stack's ``endpoint``).
    endpoint: str
    model: str | None
    #: llama-stack's recorder: versions of the provider's SDK or server (``openai_sdk_version``…).
    provider_metadata: NotRequired[dict[str, Any]]


class TransportError(TypedDict):
    """``response.transport_error``: ``type`` is one of ``format.transport.TRANSPORT_ERROR_TYPES``."""

    type: str
    message: str


class RecordedResponse(TypedDict):
    """``response``: what came back, typed and normalised."""

    #: One value, or for a stream the list of chunks (SSE events or NDJSON lines) in order.
    body: StoredBody
    is_streaming: bool
    #: HTTP status code (200 when absent, as in llama-stack's files).
    status: NotRequired[int]
    #: Response headers kept (lower-case names; a list value for a repeated header).
    headers: NotRequired[dict[str, str | list[str]]]
    #: Whether an SSE stream ended with ``data: [DONE]`` (true when absent).
    sse_done: NotRequired[bool]
    #: The transport error that cut the body short after ``body`` (see ``format/transport.py``).
    transport_error: NotRequired["TransportError"]
    #: How a stream is framed when its content type would mislead: ``"sse"`` or ``"ndjson"``
    #: (see ``format/framing.py``).
    framing: NotRequired[Literal["sse", "ndjson"]]


class RecordingDocument(TypedDict):
    """One recording file: ``{"test_id", "request", "response", ...}``."""

    #: The pytest node id of the test that recorded it (null in llama-stack files recorded outside
    #: a test); part of the request hash, so the file name.
    test_id: str | None
    #: The n-th time the same request was recorded in this test (absent means 1): ``<hash>-<n>.json``.
    occurrence: NotRequired[int]
    #: The n-th request of its test, in recorded order (1-based): a test's files replay in this
    #: order (files without it after them, by name). Not part of the name.
    position: NotRequired[int]
    #: UTC date (``YYYY-MM-DD``) the recording was written; drives ``llama_vcr_max_age``.
    recorded_at: NotRequired[str]
    #: The SDK and version that sent the request (from its User-Agent), e.g. ``OpenAI/Python 2.8.1``.
    sdk: NotRequired[str]
    request: RecordedRequest
    response: RecordedResponse
