"""``python -m llama_vcr``: the ``llama-vcr`` command line."""

from llama_vcr.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
