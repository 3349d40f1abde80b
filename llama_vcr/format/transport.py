"""A response body a transport error cut short: the stored ``response.transport_error`` field.

When the connection breaks in the middle of a body (the server closes it mid-stream, or sends
fewer bytes than its ``Content-Length``), the recording keeps the part that arrived and::

    "transport_error": {"type": "httpx.RemoteProtocolError", "message": "peer closed connection ..."}

Replay plays the same part, then raises that error. ``type`` names the client library's exception
and is one of :data:`TRANSPORT_ERROR_TYPES`: a recording is untrusted, so the name is never
imported, only looked up in that table (the ``_vcrpy`` seam maps it to the replaying client's
class). This module holds only names: it imports no client library.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from .wire import LINE_BREAK_BYTES, RecordingFormatError, decode_content

#: The response field (in a recording, and in the vcrpy response dict the seam passes around).
TRANSPORT_ERROR_KEY = "transport_error"

#: The transport errors a recording may name -> what kind of break it was. ``broken``: the peer
#: closed or reset the connection mid-body; ``timeout``: no bytes came in time.
TRANSPORT_ERROR_TYPES: Mapping[str, str] = {
    **{
        f"{module}.{name}": kind
        for module in ("httpx", "httpx2")
        for name, kind in (
            ("RemoteProtocolError", "broken"),
            ("ReadError", "broken"),
            ("ReadTimeout", "timeout"),
        )
    },
    "urllib3.exceptions.ProtocolError": "broken",
    "urllib3.exceptions.ReadTimeoutError": "timeout",
}


def check_transport_error(response: Mapping[str, Any], where: str = "response") -> None:
    """Check ``response["transport_error"]`` if present: ``{"type": <a TRANSPORT_ERROR_TYPES name>,
    "message": <str>}`` and nothing else. Raises :class:`RecordingFormatError` naming the field."""
    if TRANSPORT_ERROR_KEY not in response:
        return
    field = f"{where}.{TRANSPORT_ERROR_KEY}"
    value = response[TRANSPORT_ERROR_KEY]
    if not isinstance(value, dict):
        raise RecordingFormatError(f"{field}: {value!r:.60} is not an object with 'type' and 'message'")
    extra = sorted(set(value) - {"type", "message"})
    if extra:
        raise RecordingFormatError(f"{field}: unexpected key {extra[0]!r:.60} next to message, type")
    for key in ("type", "message"):
        if not isinstance(value.get(key), str):
            raise RecordingFormatError(f"{field}.{key}: {value.get(key)!r:.60} is not a string")
    if value["type"] not in TRANSPORT_ERROR_TYPES:
        known = ", ".join(TRANSPORT_ERROR_TYPES)
        raise RecordingFormatError(
            f"{field}.type: {value['type']!r:.60} is not a transport error llama-vcr replays ({known})"
        )


def decode_arrived(body: bytes, encoding: str) -> bytes:
    """``wire.decode_content`` of a body cut short: a gzip or deflate body decodes as far as it
    arrived (a whole-body decoder refuses a truncated stream). Raises as ``decode_content`` does."""
    try:
        return decode_content(body, encoding)
    except zlib.error:
        coding = encoding.strip().lower()
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise
        wbits = 16 + zlib.MAX_WBITS if coding != "deflate" else zlib.MAX_WBITS
        try:
            return zlib.decompressobj(wbits).decompress(body)
        except zlib.error:  # (raw deflate, without the zlib header)
            return zlib.decompressobj(-zlib.MAX_WBITS).decompress(body)


_SSE_START = (b"data:", b"event:", b":", b"id:", b"retry:")


def whole_frames(body: bytes, content_type: str) -> bytes:
    """The part of a cut stream body the client could use: up to the end of its last whole event
    (Server-Sent Events) or line (NDJSON). A half-sent frame never reached the caller as a chunk,
    so replaying it whole would add one. Any other body is kept as it arrived.

    The framing comes from the bytes first (a body starting with an SSE field is SSE whatever its
    content type, as in ``format/framing.py``), then from the content type.
    """
    sse = body.lstrip().startswith(_SSE_START)
    if not sse and ("ndjson" in content_type or "event-stream" in content_type):
        ends = [match.end() for match in LINE_BREAK_BYTES.finditer(body)]
        return body[: ends[-1]] if ends else b""
    if not sse:
        return body
    kept = previous = 0
    for match in LINE_BREAK_BYTES.finditer(body):
        if match.start() == previous and previous:  # an empty line: the end of an event
            kept = match.end()
        previous = match.end()
    return body[:kept]
