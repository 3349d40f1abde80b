"""The replay-miss error: llama-vcr's own error, vcrpy's, and the loaded SDKs' error bases at once.

Documented in ``llama_vcr._errors`` (the exception tree); defined here, in the vcrpy seam, because
it subclasses vcrpy's ``CannotOverwriteExistingCassetteException``.
"""

from __future__ import annotations

from typing import Any

from vcr.errors import CannotOverwriteExistingCassetteException

from .._errors import LlamaVcrError, with_sdk_error_bases


class RecordingNotFound(LlamaVcrError, CannotOverwriteExistingCassetteException):
    """No recording matches a request and the record mode forbids recording it.

    Raised by the cassette (see ``llama_vcr._vcrpy.cassette``) with a message that names the test,
    the request, the closest recording and the command that records it. The instance created is of
    a subclass that also derives from the error base of every loaded SDK (``with_sdk_error_bases``),
    so ``except openai.OpenAIError`` catches it and the SDK does not retry it.
    """

    def __new__(cls, message: str = "", **kwargs: Any) -> RecordingNotFound:
        if cls is RecordingNotFound:
            cls = with_sdk_error_bases(RecordingNotFound)
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
