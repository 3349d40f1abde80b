"""Helpers of the edge-case tests (found in review: each once lost data, crashed, or broke replay)."""

from __future__ import annotations

from typing import Any

import vcr

from llama_vcr import CODEC
from llama_vcr._vcrpy import configure_vcr

#: A base URL nothing listens on: replay never connects.
EDGE_OFFLINE = "http://127.0.0.1:9/v1"


def edge_vcr(mode: str, **kwargs: Any) -> vcr.VCR:
    recorder = vcr.VCR(record_mode=mode)
    configure_vcr(recorder, CODEC, "tests/unit/edge.py::t", **kwargs)
    return recorder


def edge_response(body: bytes, content_type: str) -> dict[str, Any]:
    """A vcrpy response dict: 200 with ``body`` of ``content_type``."""
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": [content_type]},
        "body": {"string": body},
    }
