"""Window statistics carried forward by this process's own writes, so that crossing detection
after a write does not rescan the period: O(rows written), not O(rows in the period).

An entry holds a window's statistics as of its measure's `data_stamp` S (migration 0004), with
the latest reading's id (to break ties as the SQL does) and the earliest reading stored at or
after the window's end. A writer that locks the measure learns the stamp it replaced; if that is
S, nobody else has written the measure since, and the window's statistics now are the entry's
merged with the rows this write added — what the window query would return (sums equal up to
floating-point rounding, which adds in another order), provided
no reading stored at S falls between the entry's end and the new one (`next_after`). Entries
are stored under the writer's new stamp; a rolled-back write leaves an entry under a stamp that
never becomes visible (stamps come from a sequence), so it is simply never used.

A count of distinct subjects cannot be carried forward from a count (a new row's subject may
or may not be new to the window): the windows of `distinct_subjects` measures are always read
from the database (`carries_forward`).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from asyncpg import Connection

from app.scores.data import WINDOW_STATS_TEMPLATE, fetch_windows, window_stats
from app.scoring import Aggregation, ScorecardDefinition, Window, WindowStats


@dataclass(frozen=True, slots=True)
class Added:
    """A reading this transaction inserted."""

    id: uuid.UUID
    measure_id: uuid.UUID
    value: float
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class KnownWindow:
    """A window's statistics with what carrying them forward needs."""

    stats: WindowStats
    latest_id: uuid.UUID | None
    next_after: datetime | None  # the earliest observed_at >= the window's `until`, if any


# Window statistics plus the latest reading's id and the first reading at or after the window's
# end: one more index probe per window.
_KNOWN_WINDOWS = WINDOW_STATS_TEMPLATE.format(
    extra=", latest.id AS latest_id, next.observed_at AS next_after",
    join="""
LEFT JOIN LATERAL (
    SELECT r.observed_at FROM readings r
    WHERE r.measure_id = w.measure_id AND r.observed_at >= w.until
    ORDER BY r.observed_at LIMIT 1
) next ON true""",
)


async def fetch_known_windows(
    connection: Connection, definition: ScorecardDefinition, windows: Collection[Window]
) -> dict[Window, KnownWindow]:
    """Every window's statistics, with what carrying them forward needs (one statement)."""
    return {
        window: KnownWindow(window_stats(row), row["latest_id"], row["next_after"])
        for window, row in await fetch_windows(connection, _KNOWN_WINDOWS, definition, windows)
    }


def carries_forward(definition: ScorecardDefinition, window: Window) -> bool:
    """Whether `window`'s statistics may be carried forward: not those that count subjects."""
    measure = definition.measures_by_id.get(window.measure_id)
    return measure is None or measure.aggregation is not Aggregation.distinct_subjects


def carried_forward(
    known: KnownWindow, known_until: datetime, window: Window, added: Iterable[Added]
) -> KnownWindow | None:
    """`window`'s statistics from `known` (the same measure and start, ending at `known_until`)
    plus `added` (every row written to the measure since), or None when rows already stored
    may have entered the window as its end moved."""
    if window.until < known_until or (
        known.next_after is not None and known.next_after < window.until
    ):
        return None
    stats, latest_id, next_after = known.stats, known.latest_id, known.next_after
    count, total = stats.count, stats.total
    minimum, maximum = stats.minimum, stats.maximum
    # Only `min`/`max` measures' windows come with their extremes (`app.scores.data`): the
    # others' stay unknown (None) rather than become the extremes of the added rows alone.
    extremes = stats.count == 0 or minimum is not None
    latest_value, latest_at = stats.latest_value, stats.latest_observed_at
    for row in added:
        if row.measure_id != window.measure_id:
            continue
        if row.observed_at >= window.until:
            next_after = min(next_after or row.observed_at, row.observed_at)
            continue
        if row.observed_at >= window.start:
            count += 1
            total = row.value if total is None else total + row.value
            if extremes:
                minimum = row.value if minimum is None else min(minimum, row.value)
                maximum = row.value if maximum is None else max(maximum, row.value)
        if latest_at is None or (row.observed_at, row.id) > (latest_at, latest_id):
            latest_value, latest_at, latest_id = row.value, row.observed_at, row.id
    return KnownWindow(
        WindowStats(count, total, minimum, maximum, latest_value, latest_at, stats.subjects),
        latest_id,
        next_after,
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    stamp: int
    until: datetime
    known: KnownWindow


class WindowCache:
    """The statistics this process's writes left, bounded, least recently used; keyed by
    (measure, window start). One per app or worker (`CrossingCaches`)."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self.reset()

    def reset(self) -> None:
        self._entries: OrderedDict[tuple[uuid.UUID, datetime], _Entry] = OrderedDict()

    def get(self, window: Window, stamp: int, added: Iterable[Added]) -> KnownWindow | None:
        """`window`'s statistics if an entry at `stamp` can be carried forward with `added`."""
        entry = self._entries.get((window.measure_id, window.start))
        if entry is None or entry.stamp != stamp:
            return None
        return carried_forward(entry.known, entry.until, window, added)

    def put(self, window: Window, stamp: int, known: KnownWindow) -> None:
        key = (window.measure_id, window.start)
        self._entries[key] = _Entry(stamp, window.until, known)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
