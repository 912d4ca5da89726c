"""Windows served from rollups (whole UTC days) plus the readings at their edges answer exactly
what aggregating the raw readings answers: for random readings written and deleted through
the write path, late ones included, over the periods of zones with half- and quarter-hour
offsets and around both DST changes of 2026, and over arbitrary windows."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.readings.service import NewReading, delete_reading, record_readings
from app.scores.data import Definitions, fetch_window_stats, load_definition
from app.scoring import Cadence, Window
from app.scoring.periods import periods_between
from app.scoring.windows import NO_READINGS
from tests.factories import create_measure, create_scorecard
from tests.ingest.test_rollups import assert_rollups_match_readings

ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Asia/Kolkata",  # +05:30
        "Asia/Kathmandu",  # +05:45
        "Europe/Berlin",  # DST from 2026-03-29
        "America/New_York",  # DST from 2026-03-08
    )
]
FIRST = datetime(2026, 3, 5, tzinfo=UTC)
LAST = datetime(2026, 4, 3, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

# Bucket edges (UTC midnights) and local midnights, where off-by-one errors live.
EDGES = sorted(
    {FIRST + timedelta(days=d) for d in range((LAST - FIRST).days + 1)}
    | {
        p.start.astimezone(UTC)
        for zone in ZONES
        for p in periods_between(FIRST, LAST, Cadence.day, zone)
        if FIRST <= p.start <= LAST
    }
)
# Outside the windows, but their days must be rolled up as PostgreSQL cuts UTC days: the first
# and last days a reading may have, one before 2000 (date_bin's usual origin), another offset.
FAR = [
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1900, 1, 1, tzinfo=UTC),
    datetime(2199, 12, 31, 23, 30, tzinfo=ZoneInfo("Asia/Kolkata")),
]
instants = st.one_of(
    st.sampled_from(EDGES),
    st.sampled_from(FAR),
    st.builds(
        lambda e, side: e + side * MICROSECOND, st.sampled_from(EDGES), st.sampled_from([-1, 1])
    ),
    st.integers(min_value=0, max_value=int((LAST - FIRST).total_seconds())).map(
        lambda s: FIRST + timedelta(seconds=s)
    ),
)
# A few repeated values, so that deleting a day's minimum or maximum often leaves a tie.
values = st.sampled_from([-5.0, 0.0, 1.5, 7.0, 7.0, 100.0]) | st.floats(
    min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False
)
batches = st.lists(st.tuples(values, instants), min_size=1, max_size=12)
# ("add", readings) or ("delete", which of the stored readings).
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), batches),
        st.tuples(st.just("delete"), st.integers(min_value=0, max_value=10_000)),
    ),
    min_size=1,
    max_size=7,
)
arbitrary_windows = st.lists(st.tuples(instants, instants), max_size=6)

# Raw aggregation; `magnitude`: the absolute values of the days the window touches, by which a
# sum may be rounded (an edge can be its day's sum minus the readings outside the window).
_RAW = """
SELECT w.ord, count(r.id) AS n, sum(r.value) AS total, min(r.value) AS minimum,
       max(r.value) AS maximum,
       (SELECT sum(abs(a.value)) FROM readings a
        WHERE a.measure_id = $1 AND a.observed_at >= date_trunc('day', w.start, 'UTC')
          AND a.observed_at < date_trunc('day', w.until, 'UTC') + interval '24 hours') AS magnitude
FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS w(start, until, ord)
LEFT JOIN readings r
  ON r.measure_id = $1 AND r.observed_at >= w.start AND r.observed_at < w.until
GROUP BY w.ord, w.start, w.until ORDER BY w.ord
"""


def windows_of(measure_id: uuid.UUID, pairs: list[tuple[datetime, datetime]]) -> list[Window]:
    periods = {
        (p.start, p.end)
        for zone in ZONES
        for cadence in (Cadence.day, Cadence.week, Cadence.month)
        for p in periods_between(FIRST, LAST, cadence, zone)
    }
    periods |= {(min(a, b), max(a, b)) for a, b in pairs}
    return [Window(measure_id, start, until) for start, until in sorted(periods)]


@settings(
    max_examples=25,
    deadline=None,
    # One measure per example, so the function-scoped client and database are safe to share.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(drawn=steps, pairs=arbitrary_windows, aggregation=st.sampled_from(["sum", "max"]))
async def test_rollup_served_windows_equal_raw_aggregation(
    client: Any,
    app: Any,
    sessionmaker: Any,
    drawn: list[tuple[str, Any]],
    pairs: list[tuple[datetime, datetime]],
    aggregation: str,
) -> None:
    scorecard = await create_scorecard(client, timezone="Asia/Kathmandu")
    measure = await create_measure(client, scorecard["id"], aggregation=aggregation, cadence="day")
    measure_id = uuid.UUID(measure["id"])
    stored: list[uuid.UUID] = []
    for kind, payload in drawn:
        async with sessionmaker() as session:
            if kind == "add":
                batch = [NewReading(measure_id, value, when) for value, when in payload]
                result = await record_readings(session, batch)
                stored.extend(result.ids)
                await session.commit()
            elif stored:
                await delete_reading(session, stored.pop(payload % len(stored)))

    windows = windows_of(measure_id, pairs)
    async with app.state.read_pool.acquire() as connection:
        definition = await load_definition(connection, Definitions(), uuid.UUID(scorecard["id"]))
        served = await fetch_window_stats(connection, definition, windows)
        raw = await connection.fetch(
            _RAW, measure_id, [w.start for w in windows], [w.until for w in windows]
        )
    for window, expected in zip(windows, raw, strict=True):
        actual = served.get(window, NO_READINGS)
        assert actual.count == expected["n"], window
        # Extremes are fetched for `min`/`max` measures only (and then never by subtraction).
        if aggregation == "max":
            assert (actual.minimum, actual.maximum) == (expected["minimum"], expected["maximum"])
        else:
            assert (actual.minimum, actual.maximum) == (None, None)
        if expected["total"] is None:
            assert actual.total is None
        else:
            # Added in another order: equal up to rounding, relative to the values' magnitude.
            assert math.isclose(
                actual.total, expected["total"], rel_tol=0, abs_tol=1e-12 * expected["magnitude"]
            )
    await assert_rollups_match_readings(app, [measure_id])
