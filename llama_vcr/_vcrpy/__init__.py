"""Cassette wiring: how llama-vcr plugs its codec, persister and matchers into a vcrpy ``VCR``."""

from __future__ import annotations

from collections.abc import Sequence

from vcr import VCR

from ..format.codec import RecordingCodec
from .cassette import use_recording_cassettes
from .matchers import DEFAULT_MATCH_ON, make_matchers
from .persister import RecordingPersister

SERIALIZER_NAME = "llama_vcr"


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
