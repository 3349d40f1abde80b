"""Ollama's native API (``ollama`` client, optional extra); streams are NDJSON, one chunk per line."""

from __future__ import annotations

from ..format.envelopes import TypeRule

T = "ollama._types."

RULES = (
    TypeRule("POST", r"/api/chat$", body=T + "ChatResponse", chunk=T + "ChatResponse"),
    TypeRule("POST", r"/api/generate$", body=T + "GenerateResponse", chunk=T + "GenerateResponse"),
    TypeRule("POST", r"/api/embed$", body=T + "EmbedResponse"),
    TypeRule("POST", r"/api/embeddings$", body=T + "EmbeddingsResponse"),
    TypeRule("GET", r"/api/tags$", body=T + "ListResponse"),
    TypeRule("GET", r"/api/ps$", body=T + "ProcessResponse"),
    TypeRule("POST", r"/api/show$", body=T + "ShowResponse"),
)
