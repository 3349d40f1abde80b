"""Errors llama-vcr raises; each names the file, test or request and says how to fix it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import openai
from vcr.errors import CannotOverwriteExistingCassetteException

#: Messages of replay misses raised during the running test (shown in its report even if swallowed).
MISSES: list[str] = []


class LlamaVcrError(Exception):
    """Base class of llama-vcr's own errors."""


class RecordingError(LlamaVcrError):
    """A recording file that cannot be read; it is never re-recorded over in replay mode."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(
            f"llama-vcr: cannot load recording {self.path}: {problem}. "
            "Fix the file, or delete it and re-record its test with --record-mode=once."
        )


class SecretRedactedWarning(UserWarning):
    """A recording about to be written contained the value of a secret environment variable."""

    def __init__(self, path: Path, variables: list[str]) -> None:
        self.path = path
        self.variables = variables
        names = ", ".join(f"${name}" for name in variables)
        super().__init__(
            f"llama-vcr: the value of {names} was found in {path} and replaced by REDACTED before writing. "
            "Check where the test sends it (a body or URL field?) and redact it there."
        )


#: Base classes of SDKs that re-raise their own errors unchanged (imported only if the test did).
_SDK_ERRORS = (("anthropic", "AnthropicError"),)
_SUBCLASSES: dict[tuple[type, ...], type] = {}


def _with_sdk_errors() -> type[RecordingNotFound]:
    """``RecordingNotFound``, subclassed with the error base of every loaded SDK that has one."""
    bases = tuple(
        getattr(sys.modules[module], name)
        for module, name in _SDK_ERRORS
        if module in sys.modules and hasattr(sys.modules[module], name)
    )
    if not bases:
        return RecordingNotFound
    if bases not in _SUBCLASSES:
        _SUBCLASSES[bases] = type("RecordingNotFound", (RecordingNotFound, *bases), {})
    return _SUBCLASSES[bases]  # type: ignore[return-value]


def record_command(test_id: str | None, mode: str) -> str:
    target = shlex.quote(test_id) if test_id else ""
    return f"pytest {target} --record-mode={mode}".replace("  ", " ")


class RecordingNotFound(CannotOverwriteExistingCassetteException, openai.OpenAIError):
    """No recording matches a request and the record mode forbids recording it.

    It subclasses ``openai.OpenAIError`` so that the OpenAI SDK re-raises it at once instead of
    retrying and wrapping it in ``APIConnectionError("Connection error.")``; when the test has
    imported ``anthropic``, the instance is also an ``anthropic.AnthropicError`` for the same reason.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> RecordingNotFound:
        if cls is RecordingNotFound:
            cls = _with_sdk_errors()
        return super().__new__(cls, *args)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cassette = kwargs["cassette"]
        persister = cassette._persister
        describe = getattr(persister, "describe_miss", None)
        if describe is None:  # a plain vcrpy cassette: keep vcrpy's own message
            super().__init__(*args, **kwargs)
            return
        self.cassette = cassette
        self.failed_request = kwargs["failed_request"]
        self.similar_requests = []
        self.reason = "no_match"
        message = describe(persister.canonical(self.failed_request), cassette)
        MISSES.append(message)
        Exception.__init__(self, message)
