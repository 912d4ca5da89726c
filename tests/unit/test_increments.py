"""Carrying window statistics forward (app/thresholds/increments.py) gives exactly what summarizing
every reading again gives — the reference the window query itself is held to."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.scoring import Window
from app.scoring.windows import Reading, summarize
from app.thresholds.increments import Added, KnownWindow, WindowCache, carried_forward

MEASURE, OTHER = uuid.UUID(int=1), uuid.UUID(int=2)
START = datetime(2026, 3, 1, tzinfo=UTC)
minutes = st.integers(min_value=-600, max_value=600)  # around the window's start and end
values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda v: round(v, 3))


def rows(draw, count_range, first_id):
    offsets = draw(st.lists(st.tuples(minutes, values), min_size=count_range[0], max_size=30))
    return [
        Added(uuid.UUID(int=first_id + i), MEASURE, value, START + timedelta(minutes=offset))
        for i, (offset, value) in enumerate(offsets)
    ]


def known_from(stored: list[Added], window: Window) -> KnownWindow:
    """What the window query returns for `stored` (ids ascending = insertion order)."""
    stats = summarize([Reading(r.value, r.observed_at) for r in stored], window)
    before = [r for r in stored if r.observed_at < window.until]
    latest = max(before, key=lambda r: (r.observed_at, r.id), default=None)
    after = [r.observed_at for r in stored if r.observed_at >= window.until]
    return KnownWindow(stats, latest and latest.id, min(after, default=None))


def same(a: KnownWindow, b: KnownWindow) -> bool:
    x, y = a.stats, b.stats
    totals = (x.total is None and y.total is None) or (
        x.total is not None and y.total is not None and math.isclose(x.total, y.total, abs_tol=1e-6)
    )
    return (
        totals
        and (x.count, x.minimum, x.maximum, x.latest_value, x.latest_observed_at)
        == (y.count, y.minimum, y.maximum, y.latest_value, y.latest_observed_at)
        and a.latest_id == b.latest_id
        and a.next_after == b.next_after
    )


@given(st.data(), st.integers(min_value=0, max_value=300), st.integers(min_value=0, max_value=300))
def test_carrying_forward_equals_summarizing_again(data, first_end, growth):
    stored = rows(data.draw, (0, 30), 1)
    added = rows(data.draw, (0, 30), 1000)
    before = Window(MEASURE, START, START + timedelta(minutes=first_end))
    after = Window(MEASURE, START, before.until + timedelta(minutes=growth))
    noise = [Added(uuid.UUID(int=5000), OTHER, 1e9, START)]  # another measure's row
    carried = carried_forward(known_from(stored, before), before.until, after, added + noise)
    expected = known_from(stored + added, after)
    if carried is None:
        # Refused only when a stored reading entered the window as its end moved.
        assert any(before.until <= r.observed_at < after.until for r in stored)
    else:
        assert same(carried, expected), (carried, expected)


def test_an_entry_is_used_only_at_its_stamp():
    window = Window(MEASURE, START, START + timedelta(days=1))
    cache = WindowCache(max_entries=1)
    known = known_from([], window)
    cache.put(window, 7, known)
    assert cache.get(window, 7, []) == known
    assert cache.get(window, 8, []) is None  # someone else wrote the measure since
    cache.put(Window(OTHER, START, window.until), 7, known)
    assert cache.get(window, 7, []) is None  # evicted: the least recently used


def test_a_window_that_ends_earlier_is_not_carried_forward():
    window = Window(MEASURE, START, START + timedelta(days=1))
    known = known_from([], window)
    earlier = Window(MEASURE, START, START + timedelta(hours=1))
    assert carried_forward(known, window.until, earlier, []) is None
