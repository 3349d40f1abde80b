"""The recording format: the document, its codec, wire framing, typed envelopes, llama-stack files.

- :mod:`.codec`: one vcrpy interaction <-> one JSON document (``docs/recording-format.md``).
- :mod:`.wire`: response bodies on the wire (content decoding, SSE / NDJSON framing, JSON bytes).
- :mod:`.envelopes`: ``{"__type__", "__data__"}`` envelopes and the SDK type registry.
- :mod:`.llama_stack`: reading files written by llama-stack's own recorder.
- ``recording.schema.json``: the JSON Schema of what llama-vcr writes.
"""
