"""The plugin's pytest stash keys: what it keeps on the session's config and on each test item.

Their own module so that ``plugin`` and ``_test_reports`` both import them without a cycle; the
types are named for type checkers only (vcrpy is imported at the first vcr test, not here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._canonical import Canonicalizer
    from ._headers import ResponseHeaders
    from ._network import AllowedHosts, NetworkPolicy
    from ._normalize import Normalizer
    from ._vcrpy import Recordings
    from .format.codec import RecordingCodec

CANONICALIZER_KEY: pytest.StashKey[tuple[Canonicalizer, Normalizer]] = pytest.StashKey()
CODEC_KEY: pytest.StashKey[RecordingCodec] = pytest.StashKey()
RESPONSE_HEADERS_KEY: pytest.StashKey[ResponseHeaders] = pytest.StashKey()
ITEM_KEY: pytest.StashKey[pytest.Item] = pytest.StashKey()
RECORDINGS_KEY: pytest.StashKey[Recordings] = pytest.StashKey()
#: A test's reports so far, by phase ("setup", "call", "teardown").
REPORTS_KEY: pytest.StashKey[dict[str, pytest.TestReport]] = pytest.StashKey()
#: Set when the session is interrupted (Ctrl-C, SIGINT, pytest.exit()): nothing is saved after it.
INTERRUPTED_KEY: pytest.StashKey[bool] = pytest.StashKey()
MAX_AGE_KEY: pytest.StashKey[float | None] = pytest.StashKey()
MAX_FILE_SIZE_KEY: pytest.StashKey[int] = pytest.StashKey()
NETWORK_KEY: pytest.StashKey[AllowedHosts] = pytest.StashKey()
POLICY_KEY: pytest.StashKey[NetworkPolicy] = pytest.StashKey()
#: How many of a test's tolerated replays its reports already show.
TOLERATED_SHOWN_KEY: pytest.StashKey[int] = pytest.StashKey()
