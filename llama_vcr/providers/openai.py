"""OpenAI (and every OpenAI-compatible server: Azure, Together, Fireworks, vLLM, Ollama's /v1...)."""

from __future__ import annotations

from ._provider import Provider, TypeRule, constant, counterpart, fixed, timestamp

T = "openai.types."

PROVIDER = Provider(
    name="openai",
    fallback=True,  # its paths (/chat/completions, /models...) are every compatible server's
    rules=(
        TypeRule(
            "POST",
            r"/chat/completions$",
            body=T + "chat.chat_completion.ChatCompletion",
            chunk=T + "chat.chat_completion_chunk.ChatCompletionChunk",
        ),
        TypeRule(
            "POST", r"/completions$", body=T + "completion.Completion", chunk=T + "completion.Completion"
        ),
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
        TypeRule(
            "POST", r"/images/(generations|edits|variations)$", body=T + "images_response.ImagesResponse"
        ),
        TypeRule("POST", r"/files$", body=T + "file_object.FileObject"),
        TypeRule("GET", r"/files/[^/]+$", body=T + "file_object.FileObject"),
        TypeRule("GET", r"/models$", items=T + "model.Model"),
        TypeRule("GET", r"/models/[^/]+$", body=T + "model.Model"),
    ),
    volatile_fields={
        "created": timestamp,
        "created_at": timestamp,
        "completed_at": timestamp,
        "expires_at": timestamp,
        "system_fingerprint": constant("fp_rec"),
        "obfuscation": constant(""),
    },
    stable_types=frozenset({T + "model.Model"}),
    kept_request_headers=frozenset({"content-type", "accept", "openai-beta"}),
    kept_response_headers=frozenset(
        {
            "content-type",
            "x-request-id",
            "retry-after",
            "retry-after-ms",
            "x-should-retry",
            "openai-version",
            "openai-processing-ms",
            "x-ratelimit-limit-*",
            "x-ratelimit-remaining-*",
            "x-ratelimit-reset-*",
        }
    ),
    volatile_response_headers={
        "openai-processing-ms": fixed("0"),
        "x-ratelimit-remaining-*": counterpart("-remaining-", "-limit-", "1000"),
        "x-ratelimit-reset-*": fixed("0s"),  # a Go duration: "6ms", "1m30s"
    },
    request_id_headers=("x-request-id",),
    secret_env=("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "TOGETHER_API_KEY", "FIREWORKS_API_KEY"),
    secret_headers=frozenset({"authorization", "api-key", "openai-organization", "openai-project"}),
    sdk_error=("openai", "OpenAIError"),
)
