"""Errors and warnings llama-vcr raises; each names the file, test or request and says how to fix it.

Exceptions::

    LlamaVcrError                    base of every llama-vcr error
     ├── RecordingError              a recording file cannot be loaded: names the file and the
     │                               problem; replay mode never re-records over it
     ├── RecordingNotFound           replay miss: no recording matches a request and the record
     │                               mode forbids recording it; also vcrpy's
     │                               CannotOverwriteExistingCassetteException and, when the test
     │                               imported them, openai.OpenAIError and anthropic.AnthropicError
     └── NetworkBlocked              a replaying test tried to reach a host that is not loopback
                                     or allowed (``llama_vcr._network``; also the loaded SDKs'
                                     error bases, never an OSError, so no client retries it)

Warnings::

    LlamaVcrWarning (UserWarning)    base of every llama-vcr warning
     ├── SecretRedactedWarning       a secret value was found in a recording and scrubbed before writing
     ├── SecretHeaderWarning         a response header llama-vcr keeps held a secret value: not stored
     ├── UnusedRecordingsWarning     a test passed in replay mode without replaying some recordings
     ├── ExpiredRecordingsWarning    a test replayed recordings older than ``llama_vcr_max_age`` days
     ├── NotReplayableWarning        a llama-stack record that is no HTTP exchange (tool runtime,
     │                               file processor, google-genai call) was skipped, not loaded
     └── ForeignRecordingsWarning    a test's directory holds recordings of another test: not
                                     replayed for it, never removed by it

``RecordingNotFound`` subclasses vcrpy's exception, so it is defined in the vcrpy seam
(``llama_vcr._vcrpy.miss``) and resolved from here on first use: importing this module imports
neither vcrpy (~80 ms, which a pytest run without vcr tests should not pay) nor any SDK.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from ._vcrpy.miss import RecordingNotFound as RecordingNotFound


class LlamaVcrError(Exception):
    """Base class of llama-vcr's own errors."""


E = TypeVar("E", bound=BaseException)


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


_SDK_SUBCLASSES: dict[tuple[type, ...], type] = {}


def with_sdk_error_bases(cls: type[E]) -> type[E]:
    """``cls``, or a subclass of it that also derives from the error base of every loaded SDK.

    The bases are each provider's ``sdk_error`` (``openai.OpenAIError``,
    ``anthropic.AnthropicError``), taken only from SDKs the test already imported. Those SDKs
    re-raise their own errors at once instead of retrying them and wrapping them in
    ``APIConnectionError("Connection error.")`` (openai-python and anthropic-sdk-python
    ``_base_client.py``: ``except Exception`` around the send retries the rest). Subclasses are
    made once per set of bases.
    """
    from .providers import SDK_ERROR_BASES

    bases = tuple(
        base
        for module, name in SDK_ERROR_BASES
        if isinstance(base := getattr(sys.modules.get(module), name, None), type)
        and issubclass(base, BaseException)
    )
    if not bases:
        return cls
    key: tuple[type, ...] = (cls, *bases)
    if key not in _SDK_SUBCLASSES:
        _SDK_SUBCLASSES[key] = type(cls.__name__, key, {"__module__": cls.__module__})
    return cast("type[E]", _SDK_SUBCLASSES[key])


def messages_in(error: BaseException | None, kind: type[BaseException]) -> list[str]:
    """The ``message`` of every ``kind`` error a failure shows, first found first: the error itself,
    its chain of causes and contexts, and the members of exception groups (anyio's happy eyeballs
    wraps a connect error in one). Cycles are followed once; at most 100 errors are looked at."""
    found: dict[str, None] = {}
    pending = [error]
    seen: set[int] = set()
    while pending and len(seen) < 100:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            found[str(getattr(current, "message", current))] = None
        pending += [current.__context__, current.__cause__]  # (the cause is looked at first)
        members = getattr(current, "exceptions", ())  # an exception group's
        if isinstance(members, tuple):
            pending += [member for member in reversed(members) if isinstance(member, BaseException)]
    return list(found)


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
        from ._redact import DEFAULT_REDACTOR  # (a path can hold a secret: a parametrized test's id)

        super().__init__(
            DEFAULT_REDACTOR.mask(
                f"llama-vcr: the value of {names} was found in {path} (a URL, body or response) and "
                "replaced by REDACTED before writing; live requests are redacted the same way before "
                "matching, so the recording replays whatever the variable's value."
            )
        )


class SecretHeaderWarning(LlamaVcrWarning):
    """A response header a recording keeps held a value the redaction policy hides: not stored.

    ``name`` is the header, ``where`` the request (``POST /v1/chat/completions``); never the value.
    """

    def __init__(self, name: str, where: str) -> None:
        self.name = name
        self.where = where
        super().__init__(
            f"llama-vcr: response header {name!r} of {where} held a value the redaction policy hides "
            "(a key, a token, a secret variable's value), so it was not stored; replay serves the "
            "response without it."
        )


class UnusedRecordingsWarning(LlamaVcrWarning):
    """A test passed in replay mode without replaying some of its recordings."""


class ExpiredRecordingsWarning(LlamaVcrWarning):
    """A test replayed recordings older than ``llama_vcr_max_age`` days."""


class NotReplayableWarning(LlamaVcrWarning):
    """A llama-stack record that is no HTTP exchange was skipped: llama-vcr neither replays nor
    re-records it (``llama_vcr.format.llama_stack.not_replayable`` gives ``reason``)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"llama-vcr: skipped {path}: {reason}; llama-vcr replays HTTP exchanges only, so this "
            "file is left as it is and the recordings beside it load without it."
        )


class ForeignRecordingsWarning(LlamaVcrWarning):
    """A test's directory holds recordings whose ``test_id`` names another test.

    They are not replayed for this test, and its re-records never remove or overwrite them.
    """

    def __init__(self, directory: Path, test_id: str, foreign: list[tuple[Path, str]]) -> None:
        self.directory = directory
        self.test_id = test_id
        self.foreign = foreign
        owners = sorted({owner for _, owner in foreign})
        shown = ", ".join(owners[:3]) + (f" and {len(owners) - 3} more" if len(owners) > 3 else "")
        super().__init__(
            f"llama-vcr: {len(foreign)} recording(s) in {directory} were recorded by another test "
            f"({shown}), not {test_id}; they are not replayed for it and its re-records leave them "
            "alone. If that test was renamed, delete them and re-record this one."
        )


def __getattr__(name: str) -> Any:  # PEP 562: RecordingNotFound is built on vcrpy, imported late
    if name == "RecordingNotFound":
        from ._vcrpy.miss import RecordingNotFound

        return RecordingNotFound
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
