"""The one window-statistics statement (app/scores/data.py) answers exactly what the engine's
reference, `app.scoring.summarize`, says it must: for random readings stored in the real
database, over the real periods of a scorecard in a zone with a 45-minute offset, with ties
and readings exactly on period edges."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.ids import new_id
from app.readings.rollups import rebuild_rollups
from app.scores.data import Definitions, fetch_window_stats, load_definition
from app.scoring import Cadence, Reading, Window, WindowStats, summarize
from app.scoring.periods import periods_between
from app.scoring.windows import NO_READINGS
from app.thresholds.increments import fetch_known_windows
from tests.factories import create_measure, create_scorecard

KATHMANDU = ZoneInfo("Asia/Kathmandu")  # UTC+05:45: local midnight is never a UTC hour
FIRST_DAY = datetime(2026, 3, 1, tzinfo=KATHMANDU)
DAYS = 4
PERIODS = periods_between(FIRST_DAY, FIRST_DAY + timedelta(days=DAYS), Cadence.day, KATHMANDU)
EDGES = [p.start for p in PERIODS] + [PERIODS[-1].end]
MICROSECOND = timedelta(microseconds=1)


values = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False) | (
    st.sampled_from([0.0, -0.0, 1.0, 1e9])
)


def _edge_instant(edge: datetime, side: int) -> datetime:
    return edge + side * MICROSECOND


# Instants on, just beside and between period edges; few enough that ties are common.
instants = st.one_of(
    st.sampled_from(EDGES),
    st.builds(_edge_instant, st.sampled_from(EDGES), st.sampled_from([-1, 1])),
    st.integers(min_value=-6 * 3600, max_value=(DAYS + 1) * 86400).map(
        lambda seconds: FIRST_DAY + timedelta(seconds=seconds)
    ),
)
# Few learners, so that repeats are common; None is a reading about nobody.
subjects = st.sampled_from([None, "ada", "bob", "cy"])
readings = st.lists(st.tuples(values, instants, subjects), max_size=25)


def windows_of(measure_id: uuid.UUID) -> list[Window]:
    """What the engine asks for: each day in the zone, plus a window over all of them and one
    that ends before any reading (only "the latest before it" can be empty or not)."""
    days = [Window(measure_id, p.start, p.end) for p in PERIODS]
    return [
        *days,
        Window(measure_id, EDGES[0], EDGES[-1]),
        Window(measure_id, EDGES[0] - timedelta(days=2), EDGES[0] - timedelta(days=1)),
    ]


def assert_same(
    actual: WindowStats, expected: WindowStats, aggregation: str, rounding: float = 0.0
) -> None:
    # The database sums in its own order (days from the rollups, an edge day as its rollup
    # minus the readings outside): totals agree up to the rounding of a float sum in any
    # order, `rounding` (all else exactly).
    assert actual.count == expected.count
    assert actual.total == (
        None if expected.total is None else pytest.approx(expected.total, abs=rounding)
    )
    # Extremes are fetched for `min`/`max` measures only.
    if aggregation in ("min", "max"):
        assert (actual.minimum, actual.maximum) == (expected.minimum, expected.maximum)
    else:
        assert (actual.minimum, actual.maximum) == (None, None)
    assert actual.latest_value == expected.latest_value
    assert actual.latest_observed_at == expected.latest_observed_at
    assert actual.subjects == expected.subjects


@settings(
    max_examples=30,
    deadline=None,
    # One measure per example, so the function-scoped client and database are safe to share.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(drawn=readings, aggregation=st.sampled_from(["sum", "max", "latest", "distinct_subjects"]))
async def test_window_statistics_match_the_reference(
    client: Any, app: Any, drawn: list[tuple[float, datetime, str | None]], aggregation: str
) -> None:
    scorecard = await create_scorecard(client, timezone="Asia/Kathmandu")
    measure = await create_measure(client, scorecard["id"], aggregation=aggregation, cadence="day")
    measure_id = uuid.UUID(measure["id"])
    # Ids in insertion order, as the write path's UUIDv7s are: of two readings at the same
    # instant the later-inserted one is the latest, in `summarize` and in the SQL alike.
    ids = sorted(new_id() for _ in drawn)
    async with app.state.read_pool.acquire() as connection:
        await connection.executemany(
            "INSERT INTO readings (id, measure_id, value, observed_at, subject) "
            "VALUES ($1, $2, $3, $4, $5)",
            [(i, measure_id, v, at, who) for i, (v, at, who) in zip(ids, drawn, strict=True)],
        )
        await rebuild_rollups(connection, measure_id)  # stored behind the write path's back
        definition = await load_definition(connection, Definitions(), uuid.UUID(scorecard["id"]))
        windows = windows_of(measure_id)
        stats = await fetch_window_stats(connection, definition, windows)
        known = await fetch_known_windows(connection, definition, windows)

    # Subjects are only counted for a distinct_subjects measure's windows.
    counted = aggregation == "distinct_subjects"
    reference = [Reading(v, at, who if counted else None) for v, at, who in drawn]
    newest = max(w.until for w in windows)
    # What summing these readings in another order may change a total by (n·ε·Σ|v|): the
    # readings of a window's edge days count, whether inside it or not.
    rounding = len(drawn) * 2**-52 * sum(abs(v) for v, _, _ in drawn)
    for window in windows:
        expected = summarize(reference, window)
        actual = stats.get(window, NO_READINGS)
        if aggregation == "latest" and window.until != newest:
            # A `latest` measure's older windows skip the range scan: only its latest reading
            # is used there, so only that is fetched.
            assert actual.count == 0
            assert actual.latest_value == expected.latest_value
            assert actual.latest_observed_at == expected.latest_observed_at
        else:
            assert_same(actual, expected, aggregation, rounding)
            assert_same(known[window].stats, expected, aggregation, rounding)

        # What carrying statistics forward needs: the latest reading's id and the first
        # reading at or after the window's end.
        before = [(at, i) for i, (_, at, _) in zip(ids, drawn, strict=True) if at < window.until]
        assert known[window].latest_id == (max(before)[1] if before else None)
        after = [at for _, at, _ in drawn if at >= window.until]
        assert known[window].next_after == (min(after) if after else None)
