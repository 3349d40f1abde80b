"""Errors and warnings llama-vcr raises; each names the file, test or request and says how to fix it.

Exceptions::

    LlamaVcrError                    base of every llama-vcr error
     ├── RecordingError              a recording file cannot be loaded: names the file and the
     │                               problem; replay mode never re-records over it
     └── RecordingNotFound           replay miss: no recording matches a request and the record
                                     mode forbids recording it; also vcrpy's
                                     CannotOverwriteExistingCassetteException and, when the test
                                     imported them, openai.OpenAIError and anthropic.AnthropicError

Warnings::

    LlamaVcrWarning (UserWarning)    base of every llama-vcr warning
     ├── SecretRedactedWarning       a secret value was found in a recording and scrubbed before writing
     ├── UnusedRecordingsWarning     a test passed in replay mode without replaying some recordings
     └── ExpiredRecordingsWarning    a test replayed recordings older than ``llama_vcr_max_age`` days

Importing this module imports vcrpy's small ``vcr.errors`` (pytest-recording has already imported
vcrpy in a pytest run) and no SDK.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from vcr.errors import CannotOverwriteExistingCassetteException


class LlamaVcrError(Exception):
    """Base class of llama-vcr's own errors."""


class RecordingError(LlamaVcrError):
    """A recording file that cannot be read; it is never re-recorded over in replay mode.

    ``path`` is the file, ``problem`` what is wrong with it (naming the field where there is one).
    """

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(
            f"llama-vcr: cannot load recording {self.path}: {problem}. "
            "Fix the file, or delete it and re-record its test with --record-mode=once."
        )


#: ``(module, class)`` of SDK error bases a miss also subclasses when the test imported that SDK:
#: those SDKs re-raise their own errors at once instead of retrying and wrapping them in
#: ``APIConnectionError("Connection error.")`` (openai-python and anthropic-sdk-python
#: ``_base_client.py``: ``except Exception`` around the send retries everything else).
SDK_ERROR_BASES = (("openai", "OpenAIError"), ("anthropic", "AnthropicError"))
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


def record_command(test_id: str | None, mode: str) -> str:
    """The command that records ``test_id`` in ``mode`` (shell-quoted)."""
    target = shlex.quote(test_id) if test_id else ""
    return f"pytest {target} --record-mode={mode}".replace("  ", " ")


class LlamaVcrWarning(UserWarning):
    """Base class of llama-vcr's warnings."""


class SecretRedactedWarning(LlamaVcrWarning):
    """A recording about to be written contained the value of a secret environment variable."""

    def __init__(self, path: Path, variables: list[str]) -> None:
        self.path = path
        self.variables = variables
        names = ", ".join(f"${name}" for name in variables)
        super().__init__(
            f"llama-vcr: the value of {names} was found in {path} and replaced by REDACTED before writing. "
            "Check where the test sends it (a body or URL field?) and redact it there."
        )


class UnusedRecordingsWarning(LlamaVcrWarning):
    """A test passed in replay mode without replaying some of its recordings."""


class ExpiredRecordingsWarning(LlamaVcrWarning):
    """A test replayed recordings older than ``llama_vcr_max_age`` days."""
