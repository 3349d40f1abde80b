"""A vcrpy ``Cassette`` that tells llama-vcr's persister about each interaction as it is recorded.

vcrpy only shows a persister the whole cassette at save time, but a recording must be encoded
the moment its response arrives: the ids it introduces are mapped to stable ones before the test
sends them back in its next request (see ``_normalize``).
"""

from __future__ import annotations

import functools
from typing import Any

from vcr import VCR
from vcr.cassette import Cassette, CassetteContextDecorator


class RecordingCassette(Cassette):
    """A cassette whose persister may implement ``recorded(cassette, request, response)``."""

    def append(self, request: Any, response: Any) -> None:
        count = len(self.data)
        super().append(request, response)
        recorded = getattr(self._persister, "recorded", None)
        if recorded is not None and len(self.data) > count:
            recorded(self, *self.data[-1])


def use_recording_cassettes(vcr: VCR) -> None:
    """Make ``vcr.use_cassette`` (as pytest-recording calls it) create :class:`RecordingCassette`."""

    def use_cassette(path: Any = None, **kwargs: Any) -> CassetteContextDecorator:
        args_getter = functools.partial(vcr.get_merged_config, path=path, **kwargs)
        return RecordingCassette.use_arg_getter(args_getter)

    vcr.use_cassette = use_cassette  # type: ignore[method-assign]
