"""llama-vcr: record LLM API traffic once, replay it in CI, one JSON file per request."""

import pytest as _pytest

# pytest-recording asks pytest to rewrite asserts in vcr.matchers; asking before vcrpy is imported
# below keeps pytest from warning that it came too late.
_pytest.register_assert_rewrite("vcr.matchers")

# ruff: noqa: E402

from ._canonical import canonical_request, normalize_body, request_hash
from ._errors import LlamaVcrError, RecordingError, RecordingNotFound
from ._format import CODEC, RecordingCodec, recording_name
from ._persister import RecordingPersister, read_document, recording_files
from ._redact import Redactor
from ._types import REGISTRY, TypeRegistry, TypeRule, revive
from ._version import __version__

__all__ = [
    "CODEC",
    "REGISTRY",
    "LlamaVcrError",
    "RecordingCodec",
    "RecordingError",
    "RecordingNotFound",
    "RecordingPersister",
    "Redactor",
    "TypeRegistry",
    "TypeRule",
    "__version__",
    "canonical_request",
    "normalize_body",
    "read_document",
    "recording_files",
    "recording_name",
    "request_hash",
    "revive",
]
