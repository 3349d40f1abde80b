"""Shared fixtures: the local OpenAI-compatible server, the llama-stack corpus, schema checks."""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import warnings
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from tests.fakes.server import FakeProviderServer

# Inner pytest runs (pytester) run in this process where they safely can. The SDKs their test
# modules import are imported here first, so pytester's ``sys.modules`` snapshot keeps them and each
# inner run does not import openai (~1 s) again.
for _name in ("openai", "anthropic", "ollama", "httpx", "httpx2", "requests", "aiohttp", "vcr"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)

ROOT = Path(__file__).parent
#: Real llama-stack recordings, read in place (CI has ../shared/corpus; a fresh clone may not).
CORPUS_DIR = Path(os.environ.get("LLAMA_VCR_CORPUS", ROOT.parent / "shared" / "corpus" / "llama-stack"))
#: A base URL nothing listens on: replay never connects, and matching ignores host and port.
OFFLINE_BASE_URL = "http://127.0.0.1:9/v1"
#: The local server the examples record against listens here, so re-recording changes no URL.
EXAMPLES_PORT = 18765
#: The fake key the example tests use; it must never appear in a recording.
EXAMPLE_API_KEY = "sk-llama-vcr-example-0123456789abcdef"


@pytest.fixture(autouse=True)
def _finalize_earlier_garbage(request: pytest.FixtureRequest) -> None:
    """Before a test that runs pytest in-process (``pytester``), finalize what earlier tests left
    for the garbage collector, with ``ResourceWarning`` ignored: an aiohttp socket that asyncio
    closed late would otherwise be collected inside the inner run, whose ``filterwarnings =
    error`` turns its warning into an error of an unrelated inner test."""
    if "pytester" in request.fixturenames:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


@pytest.fixture
def provider_server() -> Iterator[FakeProviderServer]:
    """A fresh local OpenAI-compatible server on 127.0.0.1 (fresh ids in every response)."""
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def openai_base_url(request: pytest.FixtureRequest, record_mode: str) -> Iterator[str]:
    """For ``@pytest.mark.vcr`` examples: a live local server when recording, no server in replay."""
    if record_mode == "none":
        yield OFFLINE_BASE_URL
        return
    try:
        server = FakeProviderServer(port=EXAMPLES_PORT)
    except OSError:  # the port is taken: record anyway (only the stored URLs change)
        server = FakeProviderServer()
    with server:
        yield server.base_url


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not (CORPUS_DIR / "MANIFEST.txt").is_file():
        pytest.skip(f"llama-stack corpus not found at {CORPUS_DIR} (set LLAMA_VCR_CORPUS to its path)")
    return CORPUS_DIR


@pytest.fixture(scope="session")
def recording_schema() -> object:
    jsonschema = pytest.importorskip("jsonschema")
    # the schema the installed package ships (the wheel's, when CI tests the wheel)
    schema = json.loads(resources.files("llama_vcr.format").joinpath("recording.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)
