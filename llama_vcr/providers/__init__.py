"""Provider modules: which SDK class each endpoint's responses are.

A provider is one module with a ``RULES`` tuple of :class:`~llama_vcr.TypeRule`; add it to
``RULES`` below (earlier rules win). A rule only names classes by their dotted path, so an SDK
that is not installed costs nothing: its responses are stored as plain JSON and still replay.
"""

from __future__ import annotations

from . import anthropic, ollama, openai

RULES = (*anthropic.RULES, *ollama.RULES, *openai.RULES)
