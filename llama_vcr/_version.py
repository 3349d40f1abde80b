"""The version of llama-vcr (read by the build backend and reported by ``llama-vcr --version``)."""

__version__ = "0.2.0.dev0"
