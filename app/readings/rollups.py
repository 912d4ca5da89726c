"""Reading rollups: per measure and UTC day, the count, sum, minimum and maximum of its readings
(table `reading_rollups`, migration 0013), so that a window's statistics read its whole days
from here and only the partial days at its two edges from `readings` (`app.scores.data`).

Kept in the transaction that changes the readings, under the measure locks every writer takes
(`lock_measures`), so two writers of one measure never interleave their updates:
- `add_to_rollups` right after readings are inserted: one upsert for the whole batch;
- `recompute_rollups` right after readings are deleted: the days they were in are summed
  again from `readings` (a minimum or maximum cannot be taken back by subtraction);
- a measure's rows go with it (ON DELETE CASCADE).
`rebuild_rollups` sums a measure's days again from scratch (`scorecard rollups rebuild`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from asyncpg import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import driver_connection
from app.scores.data import ROLLUP_BUCKET, rollup_bucket_of


class Observed(Protocol):
    """What a reading needs for its rollup."""

    @property
    def measure_id(self) -> uuid.UUID: ...
    @property
    def observed_at(self) -> datetime: ...
    @property
    def value(self) -> float: ...


# One statement per batch, however many readings and days: the batch is grouped by measure and
# day here (`_by_day`), then merged. Grouping in SQL instead (`GROUP BY` over unnest of every
# reading) cost PostgreSQL ~6 µs per reading, 10 % of the COPY's time for a batch of 5,000; in
# Python it is ~0.4 µs, and only one row per measure and day travels.
_ADD = """
INSERT INTO reading_rollups AS u (measure_id, bucket_start, n, total, minimum, maximum)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::int[], $4::float8[], $5::float8[],
                     $6::float8[])
ON CONFLICT (measure_id, bucket_start) DO UPDATE
SET n = u.n + excluded.n, total = u.total + excluded.total,
    minimum = least(u.minimum, excluded.minimum), maximum = greatest(u.maximum, excluded.maximum)
"""

# The days of ($1, $2) summed again from the readings left: rewritten, or removed when empty.
# The readings' deletion was an earlier statement, so this one sees its result.
_RECOMPUTE = f"""
WITH days AS (
    SELECT DISTINCT d.measure_id, {rollup_bucket_of("d.observed_at")} AS bucket_start
    FROM unnest($1::uuid[], $2::timestamptz[]) AS d(measure_id, observed_at)
), summed AS (
    SELECT days.measure_id, days.bucket_start, s.n, s.total, s.minimum, s.maximum
    FROM days CROSS JOIN LATERAL (
        SELECT count(*) AS n, sum(r.value) AS total, min(r.value) AS minimum,
               max(r.value) AS maximum
        FROM readings r
        WHERE r.measure_id = days.measure_id AND r.observed_at >= days.bucket_start
          AND r.observed_at < days.bucket_start + {ROLLUP_BUCKET}
    ) s
), emptied AS (
    DELETE FROM reading_rollups u USING summed
    WHERE u.measure_id = summed.measure_id AND u.bucket_start = summed.bucket_start
      AND summed.n = 0
)
INSERT INTO reading_rollups AS u (measure_id, bucket_start, n, total, minimum, maximum)
SELECT measure_id, bucket_start, n, total, minimum, maximum FROM summed WHERE n > 0
ON CONFLICT (measure_id, bucket_start) DO UPDATE
SET n = excluded.n, total = excluded.total, minimum = excluded.minimum, maximum = excluded.maximum
"""  # noqa: S608 (built from constants)

_CLEAR = "DELETE FROM reading_rollups WHERE measure_id = $1"
_REBUILD = f"""
INSERT INTO reading_rollups (measure_id, bucket_start, n, total, minimum, maximum)
SELECT r.measure_id, {rollup_bucket_of("r.observed_at")},
       count(*), sum(r.value), min(r.value), max(r.value)
FROM readings r
WHERE r.measure_id = $1
GROUP BY 1, 2
"""  # noqa: S608 (built from constants)

# The row lock every writer takes (`lock_measures`), so a rebuild and a writer serialise; the
# new data stamp makes cached scores and carried-forward statistics of the measure stale, in
# case the rebuild corrected something.
_LOCK_MEASURE = "UPDATE measures SET data_stamp = nextval('data_stamps') WHERE id = $1 RETURNING id"


async def add_to_rollups(session: AsyncSession, readings: Sequence[Observed]) -> None:
    """Count readings just inserted (in the caller's transaction) into their days."""
    if not readings:
        return
    days = _by_day(readings)
    driver = await driver_connection(session)
    await driver.execute(
        _ADD,
        [measure_id for measure_id, _ in days],
        [_ORIGIN + timedelta(days=day) for _, day in days],
        *zip(*days.values(), strict=True),
    )


# Days are counted from a UTC midnight (any would do): floor division gives the UTC day.
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)  # ROLLUP_BUCKET


def _by_day(readings: Iterable[Observed]) -> dict[tuple[uuid.UUID, int], list[Any]]:
    """(measure, day number since _ORIGIN) → [count, sum, minimum, maximum] of `readings`: the
    UTC day `rollup_bucket_of` gives in SQL (floor division rounds instants before the origin
    down)."""
    days: dict[tuple[uuid.UUID, int], list[Any]] = {}
    for reading in readings:
        value = reading.value
        key = (reading.measure_id, (reading.observed_at - _ORIGIN) // _DAY)
        summed = days.get(key)
        if summed is None:
            days[key] = [1, value, value, value]
        else:
            summed[0] += 1
            summed[1] += value
            if value < summed[2]:
                summed[2] = value
            if value > summed[3]:
                summed[3] = value
    return days


async def recompute_rollups(
    session: AsyncSession, deleted: Iterable[tuple[uuid.UUID, datetime]]
) -> None:
    """Sum again the days of readings just deleted: (measure_id, observed_at) of each."""
    pairs = list(deleted)
    if not pairs:
        return
    driver = await driver_connection(session)
    await driver.execute(_RECOMPUTE, [m for m, _ in pairs], [at for _, at in pairs])


async def rebuild_rollups(connection: Connection, measure_id: uuid.UUID) -> bool:
    """Sum up one measure's readings again from scratch, in one transaction under its lock.
    False if the measure does not exist (any more)."""
    async with connection.transaction():
        if await connection.fetchval(_LOCK_MEASURE, measure_id) is None:
            return False
        await connection.execute(_CLEAR, measure_id)
        await connection.execute(_REBUILD, measure_id)
    return True


async def measures_to_rebuild(
    connection: Connection, measure_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """Every measure's id in order, or just `measure_id` (empty if it does not exist)."""
    if measure_id is not None:
        found = await connection.fetchval("SELECT id FROM measures WHERE id = $1", measure_id)
        return [] if found is None else [found]
    return [row["id"] for row in await connection.fetch("SELECT id FROM measures ORDER BY id")]
