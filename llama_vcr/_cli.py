"""The ``llama-vcr`` command line (placeholder until the CLI lands)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("llama-vcr: the command line is not built yet")
