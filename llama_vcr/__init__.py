"""llama-vcr: record LLM API traffic once, replay it in CI, one JSON file per request.

The public surface is what ``__all__`` lists; every name is imported on first use (PEP 562),
so installing llama-vcr adds no SDK import to a pytest run that does not use it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._canonical import canonical_request, normalize_body, request_hash
    from ._errors import (
        ExpiredRecordingsWarning,
        ForeignRecordingsWarning,
        LlamaVcrError,
        LlamaVcrWarning,
        NotReplayableWarning,
        RecordingError,
        RecordingNotFound,
        SecretHeaderWarning,
        SecretRedactedWarning,
        UnusedRecordingsWarning,
    )
    from ._network import NetworkBlocked
    from ._redact import Redactor
    from ._store import RecordingName, read_document, recording_files, recording_name
    from ._vcrpy.persister import RecordingPersister
    from .format.codec import CODEC, RecordingCodec
    from .format.envelopes import REGISTRY, TypeRegistry, allow_type_packages, revive
    from .providers import Provider
    from .providers._provider import TypeRule

#: public name -> the module that defines it
_EXPORTS = {
    "canonical_request": "._canonical",
    "normalize_body": "._canonical",
    "request_hash": "._canonical",
    "ExpiredRecordingsWarning": "._errors",
    "ForeignRecordingsWarning": "._errors",
    "LlamaVcrError": "._errors",
    "LlamaVcrWarning": "._errors",
    "NotReplayableWarning": "._errors",
    "RecordingError": "._errors",
    "RecordingNotFound": "._errors",
    "SecretHeaderWarning": "._errors",
    "SecretRedactedWarning": "._errors",
    "UnusedRecordingsWarning": "._errors",
    "NetworkBlocked": "._network",
    "Redactor": "._redact",
    "RecordingName": "._store",
    "read_document": "._store",
    "recording_files": "._store",
    "recording_name": "._store",
    "RecordingPersister": "._vcrpy.persister",
    "CODEC": ".format.codec",
    "RecordingCodec": ".format.codec",
    "REGISTRY": ".format.envelopes",
    "TypeRegistry": ".format.envelopes",
    "TypeRule": ".providers._provider",
    "Provider": ".providers",
    "revive": ".format.envelopes",
    "allow_type_packages": ".format.envelopes",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llama_vcr' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
