"""Existing vcrpy cassettes: installing llama-vcr is not switching to it.

The rule (``docs/migrating.md``): a ``@pytest.mark.vcr`` test that has **no llama-vcr recordings
yet** but **a vcrpy cassette** (``<name>.yaml`` / ``.yml``) where its suite keeps them (the
``vcr_cassette_dir`` in use, or pytest-recording's default ``<test dir>/cassettes/<module>/``)
keeps replaying that cassette exactly as vcrpy did before llama-vcr was installed: vcrpy's YAML
serializer, the suite's own ``match_on`` (vcrpy's default if it set none), its hooks. The cassette
is **read-only**: llama-vcr never writes a vcrpy cassette, so a request it does not hold is a replay
miss whose message says how to switch the test over:

- ``llama-vcr convert <cassette> <cassette dir> --test-id <test>`` (the test then replays the
  converted recordings), or
- ``--record-mode=rewrite`` / ``all``, which records the test anew in llama-vcr's format (and are
  the only modes in which the rule does not apply).
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

from vcr import VCR
from vcr.cassette import Cassette, CassetteContextDecorator

from .miss import RecordingNotFound

#: File suffixes of a vcrpy YAML cassette (pytest-recording's default serializer).
YAML_SUFFIXES = (".yaml", ".yml")
#: Record modes that switch a test to llama-vcr even when a vcrpy cassette exists.
SWITCHING_MODES = frozenset({"rewrite", "all"})


def existing_cassette(names: Iterable[str], directories: Iterable[Path]) -> Path | None:
    """The first ``<directory>/<name><.yaml|.yml>`` that is a file, or None."""
    for directory in directories:
        for name in names:
            for suffix in YAML_SUFFIXES:
                candidate = directory / f"{name}{suffix}"
                if candidate.is_file():
                    return candidate
    return None


def cassette_of_test(
    module: Path, cassette_dir: Path, cassette_name: str, test_class: type | None, test_name: str
) -> Path | None:
    """The vcrpy cassette a test of ``module`` replays instead of llama-vcr recordings, or None.

    ``cassette_dir`` / ``cassette_name`` are the test's ``vcr_cassette_dir`` and
    ``default_cassette_name``; pytest-recording's own cassette name for the test (from its class
    and name, ``get_default_cassette_name``) is looked for under pytest-recording's default
    directory too. None when the test already has llama-vcr recordings (``<cassette_dir>/<name>/``).
    """
    from pytest_recording.plugin import get_default_cassette_name

    from .._store import recording_files

    default_name = str(get_default_cassette_name(test_class, test_name))
    default_dir = module.parent / "cassettes" / module.stem  # pytest-recording's vcr_cassette_dir
    names = list(dict.fromkeys([cassette_name, default_name]))
    found = existing_cassette(names, dict.fromkeys([cassette_dir, default_dir]))
    # (the test's directory is listed only when a cassette exists: most tests pay a few stat calls)
    if found is None or recording_files(cassette_dir / cassette_name):
        return None
    return found


def _shown(path: Path) -> str:
    """``path`` relative to the working directory if it is below it (commands read shorter)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def convert_command(cassette: Path, cassette_root: Path, test_id: str | None) -> str:
    """The ``llama-vcr convert`` command line that switches ``test_id`` over (shell-quoted);
    ``cassette_root`` is ``llama_vcr_cassette_dir`` (convert places files by the test's module)."""
    parts = ["llama-vcr", "convert", _shown(cassette), _shown(cassette_root)]
    if test_id:
        parts += ["--test-id", test_id]
    return " ".join(shlex.quote(part) for part in parts)


class ExistingCassettePersister:
    """vcrpy's persister protocol for an existing cassette, read as untrusted input: a regular file
    within its own directory once links are resolved, at most ``max_size`` bytes; a file that is
    not a cassette raises :class:`~llama_vcr.RecordingError` naming it. Never writes."""

    def __init__(self, max_size: int | None = None, extra_paths: Iterable[str] = ()) -> None:
        self.max_size = max_size
        #: Extra cassettes named in ``@pytest.mark.vcr("a.yaml")`` (pytest-recording's), loaded too.
        self.extra_paths = list(extra_paths)

    def load_cassette(self, cassette_path: str, serializer: Any) -> tuple[list[Any], list[Any]]:
        requests: list[Any] = []
        responses: list[Any] = []
        for path in dict.fromkeys([Path(cassette_path), *map(Path, self.extra_paths)]):
            loaded = self._load(path, serializer)
            requests += loaded[0]
            responses += loaded[1]
        return requests, responses

    def _load(self, path: Path, serializer: Any) -> tuple[list[Any], list[Any]]:
        from vcr.serialize import deserialize

        from .._errors import RecordingError
        from .._store import read_recording_text

        text = read_recording_text(path, root=path.parent, max_size=self.max_size)
        try:
            requests, responses = deserialize(text, serializer)
        except Exception as exc:  # (vcrpy's loader is safe: nothing in the file is ever run)
            raise RecordingError(path, f"not a vcrpy cassette ({type(exc).__name__}: {exc})") from exc
        return list(requests), list(responses)

    def save_cassette(self, cassette_path: str, cassette_dict: Any, serializer: Any) -> None:
        """Never called in record mode ``none``; an existing cassette is never written."""


class ExistingCassette(Cassette):
    """A vcrpy cassette replayed read-only; a miss raises :class:`RecordingNotFound` with advice."""

    advice: str = ""
    #: Masks secrets in the miss message (the redaction policy's ``mask``).
    mask: Any = staticmethod(lambda text: text)

    def can_play_response_for(self, request: Any) -> bool:
        if super().can_play_response_for(request):
            return True
        if self.write_protected and self.filter_request(request):
            message = self.mask(
                f"llama-vcr: no interaction of the vcrpy cassette {self._path} matches "
                f"{request.method} {request.uri} (llama-vcr replays an existing vcrpy cassette "
                f"read-only and never writes one).\n{self.advice}"
            )
            raise RecordingNotFound(message, cassette=self, failed_request=request)
        return False


def replay_existing(
    vcr: VCR,
    cassette: Path,
    *,
    test_id: str | None,
    cassette_root: Path,
    mask: Callable[[str], str] | None = None,
    max_size: int | None = None,
) -> None:
    """Make ``vcr`` replay the vcrpy ``cassette`` read-only, as vcrpy itself would have.

    llama-vcr's defaults that pytest-recording merged into the cassette's arguments (its serializer
    and ``match_on`` from llama-vcr's ``vcr_config`` fixture) are dropped: the suite's own settings,
    or vcrpy's defaults, apply. The file is read as untrusted input
    (:class:`ExistingCassettePersister`, ``max_size`` bytes at most); ``mask`` hides secrets in
    the miss message (the URL a request was sent to can hold a key).
    """
    from . import DEFAULT_MATCH_ON, SERIALIZER_NAME

    advice = (
        "  to switch this test to llama-vcr, convert its cassette:\n"
        f"    {convert_command(cassette, cassette_root, test_id)}\n"
        "  or re-record it against the real API with --record-mode=rewrite."
    )
    attributes = {"advice": advice, **({"mask": staticmethod(mask)} if mask is not None else {})}
    kind = cast(type[ExistingCassette], type("ExistingCassette", (ExistingCassette,), attributes))
    vcr.register_persister(ExistingCassettePersister(max_size, getattr(vcr.persister, "extra_paths", ())))

    def use_cassette(path: Any = None, **kwargs: Any) -> CassetteContextDecorator:
        if kwargs.get("serializer") == SERIALIZER_NAME:
            del kwargs["serializer"]
        if tuple(kwargs.get("match_on") or ()) == DEFAULT_MATCH_ON:
            del kwargs["match_on"]
        kwargs.update(path=str(cassette), serializer="yaml", record_mode="none")
        kwargs["path_transformer"] = None
        args_getter = functools.partial(vcr.get_merged_config, **kwargs)
        return kind.use_arg_getter(args_getter)

    vcr.use_cassette = use_cassette
