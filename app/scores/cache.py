"""Scores computed on read, reused while nothing they depend on has changed.

A score is a pure function of the scorecard's definition, its readings and the instant. The
first two are covered by `LoadedScorecard.version`, read on every request (one small query), so
a committed reading or edit invalidates at once, in every process. The instant:

- with an explicit `as_of`, the entry stays valid for as long as the version does;
- without one ("now"), an entry is reused for at most `max_age` seconds
  (`SCORECARD_SCORE_CACHE_SECONDS`). The response still names the exact instant it describes
  in `as_of`, and every write committed before the request is reflected.

One cache per app (`app.state.score_cache`), so per worker process.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter

from app.scoring import PeriodSelector

# (scorecard, period, as_of and its offset, which the response echoes; None, None: now)
CacheKey = tuple[uuid.UUID, PeriodSelector, datetime | None, timedelta | None]

LOOKUPS = Counter(
    "scorecard_score_cache_lookups_total", "Scorecard score cache lookups.", ["result"]
)


@dataclass(frozen=True, slots=True)
class _Entry:
    version: Hashable
    computed_at: float  # time.monotonic()
    body: bytes


class ScoreCache:
    """A bounded, least-recently-used map from request to response body."""

    def __init__(self, max_entries: int = 1024, max_age: float = 1.0) -> None:
        self.max_entries, self.max_age = max_entries, max_age
        self.reset()

    def reset(self) -> None:
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()

    def get(self, key: CacheKey, version: Hashable) -> bytes | None:
        entry = self._entries.get(key)
        if (
            entry is None
            or entry.version != version
            or (key[2] is None and time.monotonic() - entry.computed_at >= self.max_age)
        ):
            LOOKUPS.labels("miss").inc()
            return None
        LOOKUPS.labels("hit").inc()
        self._entries.move_to_end(key)
        return entry.body

    def put(self, key: CacheKey, version: Hashable, body: bytes) -> None:
        self._entries[key] = _Entry(version, time.monotonic(), body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
