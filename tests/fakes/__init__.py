"""Route handlers of the local fake provider server (`tests.fakes.server.FakeProviderServer`).

One module per wire format: OpenAI (chat, completions, embeddings, models), the OpenAI Responses
API, other OpenAI endpoints (moderations, images, audio, files), Anthropic Messages and the Ollama
native API. `common` holds what they share. Stdlib only.
"""
