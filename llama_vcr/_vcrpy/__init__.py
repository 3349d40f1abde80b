"""The one seam into vcrpy and pytest-recording: every use of their internals lives in this package.

The rest of llama-vcr depends only on :func:`configure_vcr` and the :class:`Recordings`
protocol it returns. What this package relies on beyond vcrpy's public API is listed in
:data:`PRIVATE_ATTRIBUTES` (checked by ``tests/test_vcrpy_seam.py`` against the installed vcrpy):

- ``Cassette._persister``, ``_serializer``, ``_match_on``, ``_before_record_request``,
  ``_before_save_interaction``, ``_loaded_count``, ``_save``, ``_responses``, ``play_response``:
  the cassette subclass (:mod:`.cassette`) encodes interactions as they are recorded, looks
  recordings up by key, notes what tolerant matching let through, and finds the ones a test
  never replayed;
- ``Request.__class__`` swapped for a cheap-to-copy subclass (``format.replayed.StoredRequest``);
- ``VCR.use_cassette`` replaced on the test's own ``VCR`` object, so that pytest-recording creates
  :class:`~.cassette.RecordingCassette`;
- ``pytest_recording._vcr.CombinedPersister`` for extra cassettes named in ``@pytest.mark.vcr(...)``;
- ``Cassette._path`` names an existing vcrpy cassette in its miss message (:mod:`.existing`);
- ``vcr.patch._Httpx[2]HttpTransport_handle_request`` (and the async ones): the real methods, which
  :mod:`.transport` wraps in vcrpy's own httpx stub to record a body a transport error cut short
  (defined by vcrpy only when that library is installed).
- ``httpx._transports.default.create_ssl_context`` (and httpx2's): the name a transport builds its
  SSL context through, patched while a cassette only replays (:mod:`.ssl_contexts`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # importing vcrpy costs ~80 ms: this module is imported by the plugin at start
    from vcr import VCR

    from ..format.codec import RecordingCodec
    from .persister import RecordingPersister

#: The name llama-vcr's serializer is registered under (``vcr_config["serializer"]``).
SERIALIZER_NAME = "llama_vcr"
#: The ``match_on`` llama-vcr configures by default (matchers built by ``matchers.make_matchers``).
DEFAULT_MATCH_ON = ("method", "endpoint", "canonical_body")

#: ``"module:Class" -> attributes`` this package uses that are not vcrpy's public API.
PRIVATE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "vcr.cassette:Cassette": (
        "_persister",
        "_serializer",
        "_match_on",
        "_before_record_request",
        "_before_save_interaction",
        "_loaded_count",
        "_save",
        "_responses",
        "can_play_response_for",
        "play_response",
        "filter_request",
        "write_protected",
        "play_counts",
        "data",
        "use_arg_getter",
        "_path",
        "rewound",
        "allow_playback_repeats",
        "record_mode",
    ),
    "vcr.config:VCR": ("get_merged_config", "use_cassette", "persister"),
    "pytest_recording._vcr:CombinedPersister": ("load_cassette", "save_cassette"),
    # (vcrpy's per-matcher results: which matchers of a custom match_on a miss fails; see .cassette)
    "vcr.matchers:": ("get_matchers_results",),
    # (a module's own names: the real transport methods vcrpy's httpx stubs wrap; see .transport)
    "vcr.patch:": (
        "PATCHER_NAMES",  # (the skip_patchers names; libraries not installed are skipped: see .cassette)
        "_HttpxHttpTransport_handle_request",
        "_HttpxAsyncHttpTransport_handle_async_request",
        "_Httpx2HttpTransport_handle_request",
        "_Httpx2AsyncHttpTransport_handle_async_request",
    ),
    # (the function each transport calls to build its SSL context; replay shares them: see .ssl_contexts)
    "httpx._transports.default:": ("create_ssl_context",),
    "httpx2._transports.default:": ("create_ssl_context",),
}


class Recordings(Protocol):
    """One test's recordings, as the pytest plugin sees them (made by :func:`configure_vcr`)."""

    #: Messages of replay misses raised in the test, even those the test swallowed.
    misses: list[str]
    #: What tolerant matching let through: one message per replay only it allowed.
    tolerated: list[str]
    #: Asked before saving: False keeps the previous recordings (a test that did not pass).
    save_allowed: Callable[[], bool]
    #: True: the cassette's save only keeps the new set of files; :meth:`commit` (writes it and
    #: puts it in place) or :meth:`discard` decides once the test's teardown is over.
    commit_later: bool
    #: Files the cassette's save wrote (new or changed) and removed (stale after a re-record).
    written: int
    removed: int

    def commit(self) -> None:
        """Replace the test's files by the saved set, all at once (a no-op if none is pending)."""
        ...

    def discard(self) -> None:
        """Drop the saved set; the previous recordings stay (a no-op if none is pending)."""
        ...

    def replayed(self) -> int:
        """How many loaded recordings the test replayed."""
        ...

    @property
    def replaying(self) -> bool:
        """True when the test's cassette only replays (``none``, or ``once`` with recordings)."""
        ...

    def unused(self) -> list[Path]:
        """Files of the test's own directory that were loaded but never replayed."""
        ...

    def expired(self, max_age_days: float) -> list[tuple[Path, int]]:
        """``(file, age in days)`` of loaded recordings older than ``max_age_days``."""
        ...


def configure_vcr(
    vcr: VCR, codec: RecordingCodec, test_id: str | None, *, rewrite: bool = False, tolerant: bool = False
) -> RecordingPersister:
    """Make ``vcr`` read and write llama-vcr recordings by default; a user's ``vcr_config`` still wins.

    llama-vcr's matchers are registered under their own names and vcrpy's (``matchers``);
    ``tolerant`` (``llama_vcr_match = tolerant``) makes the ``canonical_body`` and ``body``
    matchers compare bodies tolerantly.

    pytest-recording registers its own ``CombinedPersister`` for extra cassettes named in
    ``@pytest.mark.vcr("a", "b")``; its ``extra_paths`` are carried over so they keep working.
    The returned persister is the test's :class:`Recordings`.
    """
    from .cassette import use_recording_cassettes
    from .matchers import make_matchers
    from .persister import RecordingPersister

    extra_paths: Sequence[str] = getattr(vcr.persister, "extra_paths", ())
    persister = RecordingPersister(codec, test_id=test_id, extra_paths=list(extra_paths), rewrite=rewrite)
    vcr.register_serializer(SERIALIZER_NAME, codec)
    for name, matcher in make_matchers(persister.canonical, tolerant=tolerant).items():
        vcr.register_matcher(name, matcher)
    vcr.register_persister(persister)
    use_recording_cassettes(vcr)
    vcr.serializer = SERIALIZER_NAME
    vcr.match_on = DEFAULT_MATCH_ON
    vcr.before_record_request = codec.redactor.request
    return persister
