"""The replay-miss error: llama-vcr's own error, vcrpy's, and the loaded SDKs' error bases at once.

Documented in ``llama_vcr._errors`` (the exception tree); defined here, in the vcrpy seam, because
it subclasses vcrpy's ``CannotOverwriteExistingCassetteException``.
"""

from __future__ import annotations

import sys
from typing import Any

from vcr.errors import CannotOverwriteExistingCassetteException

from .. import providers as _providers
from .._errors import LlamaVcrError

#: ``(module, class)`` of SDK error bases a miss also subclasses when the test imported that SDK
#: (each provider's ``sdk_error``): those SDKs re-raise their own errors at once instead of retrying
#: and wrapping them in ``APIConnectionError("Connection error.")`` (openai-python and
#: anthropic-sdk-python ``_base_client.py``: ``except Exception`` around the send retries the rest).
SDK_ERROR_BASES = _providers.SDK_ERROR_BASES
_SUBCLASSES: dict[tuple[type, ...], type] = {}


def _loaded_sdk_bases() -> tuple[type, ...]:
    return tuple(
        base
        for module, name in SDK_ERROR_BASES
        if isinstance(base := getattr(sys.modules.get(module), name, None), type)
    )


class RecordingNotFound(LlamaVcrError, CannotOverwriteExistingCassetteException):
    """No recording matches a request and the record mode forbids recording it.

    Raised by the cassette (see ``llama_vcr._vcrpy.cassette``) with a message that names the test,
    the request, the closest recording and the command that records it. The instance created is of
    a subclass that also derives from the error base of every loaded SDK in :data:`SDK_ERROR_BASES`,
    so ``except openai.OpenAIError`` catches it and the SDK does not retry it.
    """

    def __new__(cls, message: str = "", **kwargs: Any) -> RecordingNotFound:
        if cls is RecordingNotFound:
            bases = _loaded_sdk_bases()
            if bases:
                if bases not in _SUBCLASSES:
                    _SUBCLASSES[bases] = type("RecordingNotFound", (RecordingNotFound, *bases), {})
                cls = _SUBCLASSES[bases]
        return Exception.__new__(cls)

    def __init__(self, message: str = "", *, cassette: Any = None, failed_request: Any = None) -> None:
        # vcrpy's own __init__ would compute a (slow) message of its own: skip it.
        Exception.__init__(self, message)
        self.cassette = cassette
        self.failed_request = failed_request
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (pytest-xdist, multiprocessing) without SDK bases
        return (RecordingNotFound, (self.message,))
