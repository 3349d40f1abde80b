"""OpenAI (and every OpenAI-compatible server: Azure, Together, Fireworks, vLLM, Ollama's /v1...)."""

from __future__ import annotations

from ..format.envelopes import TypeRule

T = "openai.types."

RULES = (
    TypeRule(
        "POST",
        r"/chat/completions$",
        body=T + "chat.chat_completion.ChatCompletion",
        chunk=T + "chat.chat_completion_chunk.ChatCompletionChunk",
    ),
    TypeRule("POST", r"/completions$", body=T + "completion.Completion", chunk=T + "completion.Completion"),
    TypeRule(
        "POST",
        r"/responses$",
        body=T + "responses.response.Response",
        chunk=T + "responses.response_stream_event.ResponseStreamEvent",  # by each event's "type"
    ),
    TypeRule(
        "GET",
        r"/responses/[^/]+$",
        body=T + "responses.response.Response",
        chunk=T + "responses.response_stream_event.ResponseStreamEvent",  # retrieve(id, stream=True)
    ),
    TypeRule("POST", r"/embeddings$", body=T + "create_embedding_response.CreateEmbeddingResponse"),
    TypeRule("POST", r"/moderations$", body=T + "moderation_create_response.ModerationCreateResponse"),
    TypeRule("POST", r"/images/(generations|edits|variations)$", body=T + "images_response.ImagesResponse"),
    TypeRule("POST", r"/files$", body=T + "file_object.FileObject"),
    TypeRule("GET", r"/files/[^/]+$", body=T + "file_object.FileObject"),
    TypeRule("GET", r"/models$", items=T + "model.Model"),
    TypeRule("GET", r"/models/[^/]+$", body=T + "model.Model"),
)
