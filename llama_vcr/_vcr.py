"""Cassette wiring: how llama-vcr plugs its codec, persister and matchers into a vcrpy ``VCR``."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from vcr import VCR
from vcr.errors import CannotOverwriteExistingCassetteException

from ._cassette import use_recording_cassettes
from ._errors import RecordingNotFound
from ._format import RecordingCodec
from ._matchers import DEFAULT_MATCH_ON, make_matchers
from ._persister import RecordingPersister

SERIALIZER_NAME = "llama_vcr"
#: vcrpy modules that raise ``CannotOverwriteExistingCassetteException`` on a replay miss.
_STUB_MODULES = ("vcr.stubs", "vcr.stubs.httpx_stubs", "vcr.stubs.aiohttp_stubs", "vcr.stubs.tornado_stubs")


def configure_vcr(
    vcr: VCR, codec: RecordingCodec, test_id: str | None, *, rewrite: bool = False
) -> RecordingPersister:
    """Make ``vcr`` read and write llama-vcr recordings by default; a user's ``vcr_config`` still wins.

    pytest-recording registers its own ``CombinedPersister`` for extra cassettes named in
    ``@pytest.mark.vcr("a", "b")``; its ``extra_paths`` are carried over so they keep working.
    """
    extra_paths: Sequence[str] = getattr(vcr.persister, "extra_paths", ())
    persister = RecordingPersister(codec, test_id=test_id, extra_paths=list(extra_paths), rewrite=rewrite)
    vcr.register_serializer(SERIALIZER_NAME, codec)
    for name, matcher in make_matchers(persister.canonical).items():
        vcr.register_matcher(name, matcher)
    vcr.register_persister(persister)
    use_recording_cassettes(vcr)
    vcr.serializer = SERIALIZER_NAME
    vcr.match_on = DEFAULT_MATCH_ON
    vcr.before_record_request = codec.redactor.request
    return persister


def _swap_miss_error(new: type[Exception]) -> None:
    for name in _STUB_MODULES:
        try:
            module: Any = importlib.import_module(name)
        except ImportError:  # an optional HTTP library vcrpy patches is not installed
            continue
        if hasattr(module, "CannotOverwriteExistingCassetteException"):
            module.CannotOverwriteExistingCassetteException = new


def install_miss_error() -> None:
    """Make vcrpy raise :class:`RecordingNotFound` (a subclass of its own error) on a replay miss."""
    _swap_miss_error(RecordingNotFound)


def uninstall_miss_error() -> None:
    _swap_miss_error(CannotOverwriteExistingCassetteException)
