"""Ollama's native API (``ollama`` client, optional extra); streams are NDJSON, one chunk per line."""

from __future__ import annotations

import re

from ._provider import Provider, TypeRule, timestamp, zero

T = "ollama._types."

PROVIDER = Provider(
    name="ollama",
    rules=(
        TypeRule("POST", r"/api/chat$", body=T + "ChatResponse", chunk=T + "ChatResponse"),
        TypeRule("POST", r"/api/generate$", body=T + "GenerateResponse", chunk=T + "GenerateResponse"),
        TypeRule("POST", r"/api/embed$", body=T + "EmbedResponse"),
        TypeRule("POST", r"/api/embeddings$", body=T + "EmbeddingsResponse"),
        TypeRule("GET", r"/api/tags$", body=T + "ListResponse"),
        TypeRule("GET", r"/api/ps$", body=T + "ProcessResponse"),
        TypeRule("POST", r"/api/show$", body=T + "ShowResponse"),
    ),
    volatile_fields={
        "created_at": timestamp,
        "total_duration": zero,
        "load_duration": zero,
        "prompt_eval_duration": zero,
        "eval_duration": zero,
    },
    ndjson_paths=re.compile(r"/api/"),
)
