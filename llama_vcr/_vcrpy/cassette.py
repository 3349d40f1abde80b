"""A vcrpy ``Cassette`` that works with llama-vcr's persister: encode on record, index on replay.

vcrpy only shows a persister the whole cassette at save time, but a recording must be encoded
the moment its response arrives: the ids it introduces are mapped to stable ones before the test
sends them back in its next request (see ``_normalize``). And vcrpy finds a request's recordings
by running every matcher against every recorded request; with llama-vcr's matchers the canonical
form is a key, so lookups go through a dict and stay flat as a test's directory grows.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Callable, Iterator
from typing import Any

from vcr import VCR
from vcr import patch as vcr_patch
from vcr.cassette import Cassette, CassetteContextDecorator
from vcr.matchers import get_matchers_results
from vcr.record_mode import RecordMode
from vcr.request import Request

from .._report import tolerated_message, with_matchers_note
from ..format.replayed import StoredRequest
from . import DEFAULT_MATCH_ON
from .matchers import KeyPart, RequestKey, is_tolerant, key_parts, request_key
from .miss import RecordingNotFound
from .persister import DOCUMENT_KEY, SOURCE_KEY, RecordingPersister
from .ssl_contexts import ssl_context_patches
from .transport import transport_patches


class RecordingCassette(Cassette):
    """A cassette whose persister may implement ``recorded(...)`` and ``canonical(request)``."""

    _index: dict[RequestKey, list[int]] | None = None
    _custom_patches: tuple[Any, ...] = ()
    _before_record_request: Callable[[Any], Any]
    _index_stamp: tuple[int, int] = (-1, -1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        skip = kwargs.get("skip_patchers") or ()
        kwargs["skip_patchers"] = (*skip, *(name for name in uninstalled_patchers() if name not in skip))
        super().__init__(*args, **kwargs)
        self._before_record_request = _once_per_request(self._before_record_request)
        self._append_lock = threading.Lock()  # threads recording at once must not swap their pairs
        if self._before_save_interaction:  # user hooks may change what is saved: encode it again
            self._before_save_interaction.append(_drop_encoded_document)
        if isinstance(self._persister, RecordingPersister):
            self._persister.attach(self)
        # a body a transport error cuts short is recorded, and replayed, with that error
        self._custom_patches = (*self._custom_patches, *transport_patches(self))

    @property
    def custom_patches(self) -> tuple[Any, ...]:
        """vcrpy's ``custom_patches``, read when the cassette is entered (after loading): the user's,
        the transport-error ones (:mod:`.transport`) and, while the cassette only replays and its
        persister allows it, shared SSL contexts (:mod:`.ssl_contexts`)."""
        share = bool(self.write_protected and getattr(self._persister, "share_ssl_contexts", False))
        skip = frozenset(getattr(self, "skip_patchers", ()))
        return (*self._custom_patches, *ssl_context_patches(share, skip))

    @custom_patches.setter
    def custom_patches(self, value: Any) -> None:
        self._custom_patches = tuple(value or ())

    def can_play_response_for(self, request: Any) -> bool:
        """vcrpy's answer; on a replay miss of a llama-vcr cassette, raise :class:`RecordingNotFound`.

        Every vcrpy stub asks this before it raises its own ``CannotOverwriteExistingCassetteException``
        for a write-protected cassette, so raising here gives the miss llama-vcr's message (and SDK
        error bases) for this cassette alone, with no process-wide patching.

        vcrpy's answer is False whatever the lookup finds when the cassette was not loaded from
        recordings (a new one, or ``all``): the lookup, which canonicalises every recording, is
        then skipped, so recording N requests in one test stays linear.
        """
        playable = self.record_mode != RecordMode.ALL and (self.rewound or self.allow_playback_repeats)
        if playable and super().can_play_response_for(request):
            return True
        persister = self._persister
        if (
            self.write_protected
            and isinstance(persister, RecordingPersister)
            and self.filter_request(request)
        ):
            message = persister.describe_miss(persister.canonical(request), self)
            note = self._matchers_note(request)
            message = with_matchers_note(message, note) if note else message
            persister.misses.append(message)
            raise RecordingNotFound(message, cassette=self, failed_request=request)
        return False

    def _matchers_note(self, request: Any) -> str | None:
        """For a ``match_on`` other than llama-vcr's default: which of its matchers the recording
        that passes most of them fails, and how (vcrpy's own comparison); None otherwise."""
        names = tuple(getattr(matcher, "__name__", "?") for matcher in self._match_on)
        if names == DEFAULT_MATCH_ON or not self.data:
            return None
        sent = self._before_record_request(request)
        if sent is None:
            return None
        results = [get_matchers_results(sent, stored, self._match_on)[1] for stored, _ in self.data]
        failed = min(results, key=len)
        if not failed:
            return None  # (a recording matches: it was already replayed)
        shown = "; ".join(f"{name}: {str(why)[:200]}" for name, why in failed[:3])
        return f"  match_on ({', '.join(names)}): the closest recording fails {shown}"

    def append(self, request: Any, response: Any) -> None:
        with self._append_lock:
            count = len(self.data)
            super().append(request, response)
            recorded = getattr(self._persister, "recorded", None)
            if recorded is not None and len(self.data) > count:
                recorded(self, *self.data[-1])

    def _save(self, force: bool = False) -> None:
        # "rewrite" of a test that now sends nothing must still remove its old recordings
        persister = self._persister
        stale = getattr(persister, "rewrite", False) and getattr(persister, "_previous", None)
        super()._save(force=force or bool(stale))

    def _key_parts(self) -> tuple[KeyPart, ...] | None:
        """The key parts of ``match_on`` if every matcher in it is llama-vcr's (``matchers``): the
        recordings are then looked up in a dict; else None, and vcrpy compares each recording."""
        if not hasattr(self._persister, "canonical"):
            return None
        return key_parts(self._match_on)

    def _key(self, request: Any, parts: tuple[KeyPart, ...]) -> RequestKey:
        return request_key(self._persister.canonical(request), request, parts)

    def _lookup(self, request: Any, parts: tuple[KeyPart, ...]) -> list[int]:
        stamp = (len(self.data), len(getattr(self._persister, "ids", ())))
        if self._index is None or self._index_stamp != stamp:
            index: dict[RequestKey, list[int]] = {}
            for position, (stored, _) in enumerate(self.data):
                index.setdefault(self._key(stored, parts), []).append(position)
            self._index, self._index_stamp = index, stamp
        return self._index.get(self._key(request, parts), [])

    def _responses(self, request: Any) -> Iterator[tuple[int, Any]]:
        parts = self._key_parts()
        if parts is None:
            yield from super()._responses(request)
            return
        request = self._before_record_request(request)
        positions = self._lookup(request, parts)
        if len(positions) > 1 and is_tolerant(self._match_on):  # an exact match before a tolerated one
            canonical = self._persister.canonical
            sent = canonical(request).body_key
            positions = sorted(positions, key=lambda at: canonical(self.data[at][0]).body_key != sent)
        for position in positions:
            yield position, self.data[position][1]

    def play_response(self, request: Any) -> Any:
        """vcrpy's; a replay that only tolerant matching allowed (its body differs from the
        recording's as exact matching compares) is noted in the persister's ``tolerated``."""
        response = super().play_response(request)
        persister = self._persister
        if isinstance(persister, RecordingPersister) and is_tolerant(self._match_on):
            sent = self._before_record_request(request)
            stored = next((req for req, resp in self.data if resp is response), None)
            if sent is not None and stored is not None:
                live, recorded = persister.canonical(sent), persister.canonical(stored)
                if live.body_key != recorded.body_key:
                    persister.tolerated.append(tolerated_message(recorded, live, response.get(SOURCE_KEY)))
        return response


#: vcrpy's patcher groups (``skip_patchers`` names) -> the module whose absence makes one useless.
PATCHER_MODULES = {
    "requests": "requests",
    "boto3": "botocore",
    "urllib3": "urllib3",
    "httplib2": "httplib2",
    "tornado": "tornado",
    "aiohttp": "aiohttp",
    "httpx": "httpx",
    "httpx2": "httpx2",
}


@functools.cache
def uninstalled_patchers() -> tuple[str, ...]:
    """vcrpy's patcher groups whose library is not installed, found once per process.

    vcrpy's patcher builder tries to import every library it knows on every cassette it enters,
    and a failed import searches ``sys.path`` again each time (no cache remembers a missing
    module): about half of vcrpy's per-test patching cost in a project with only httpx. Such a
    library cannot be used by the test, so skipping its group (vcrpy's public ``skip_patchers``)
    changes nothing, unless it is installed while the session runs."""
    known = set(getattr(vcr_patch, "PATCHER_NAMES", PATCHER_MODULES))
    return tuple(name for name, module in PATCHER_MODULES.items() if name in known and not _installed(module))


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # (a stand-in module without a spec: let vcrpy try it)
        return True


#: The attribute a live request keeps its filtered copy under: (hook, what it was made from, copy).
_FILTERED_ATTR = "_llama_vcr_filtered"


def _once_per_request(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``hook`` (vcrpy's ``before_record_request``: a deep copy of the request, then every filter),
    run once per live request however often vcrpy asks: a stub asks 4 times per request
    (``can_play_response_for``, ``__contains__``, ``play_response``, each through ``_responses``),
    and each answer is a fresh copy redacted again. The copy made first is returned again while the
    request's method, URL, body and headers are the same objects; the copy is never mutated (the
    canonical form is cached on it), so sharing it is what vcrpy's repeated copies amounted to."""

    def filtered(request: Any) -> Any:
        state = request.__dict__
        made_from = _made_from(state)
        cached = state.get(_FILTERED_ATTR)
        if cached is not None and cached[0] is hook and _same(cached[1], made_from):
            return cached[2]
        if type(request) is Request:  # (vcrpy deep-copies it for the hook: a copy of its dicts will do)
            StoredRequest.of(request)
        result = hook(request)
        state[_FILTERED_ATTR] = (hook, made_from, result)
        if result is not None and result is not request:  # vcrpy filters the copy again: it is final
            result.__dict__[_FILTERED_ATTR] = (hook, _made_from(result.__dict__), result)
        return result

    return filtered


def _made_from(state: dict[str, Any]) -> tuple[Any, ...]:
    """What a vcrpy request's filtered copy derives from: method, URL, body and headers."""
    return (state.get("method"), state.get("_uri"), state.get("_body"), state.get("_headers"))


def _same(made_from: tuple[Any, ...], now: tuple[Any, ...]) -> bool:
    return (
        made_from[0] == now[0]
        and made_from[1] == now[1]
        and all(a is b for a, b in zip(made_from[2:], now[2:], strict=True))
    )


def _drop_encoded_document(request: Any, response: Any) -> tuple[Any, Any]:
    response.pop(DOCUMENT_KEY, None)
    return request, response


def use_recording_cassettes(vcr: VCR) -> None:
    """Make ``vcr.use_cassette`` (as pytest-recording calls it) create :class:`RecordingCassette`."""

    def use_cassette(path: Any = None, **kwargs: Any) -> CassetteContextDecorator:
        args_getter = functools.partial(vcr.get_merged_config, path=path, **kwargs)
        return RecordingCassette.use_arg_getter(args_getter)

    vcr.use_cassette = use_cassette
