"""Due readings: which scheduled measures still owe the reading of their last ended period.

A measure with `due_after_days` owes one reading per period: the period is *reported* once the
measure has a reading observed inside it, and the reading is due `due_after_days` days after the
period's end (local midnight in the scorecard's zone). Only the last period that has ended by
`as_of` counts. The list and the sweeper's `reading.overdue` events come from one set-based
statement over every scheduled measure, each in its scorecard's zone.

Periods are cut in SQL the way `app.scoring.periods` cuts them in Python: `date_trunc` on the
local wall time (a cadence's name is its `date_trunc` field; ISO weeks start on Monday), and
local midnights turned back into instants as Python does (`_instant`: a midnight skipped by a
DST gap is the first instant of the day, one that happens twice the earlier of the two).
tests/reporting/test_due_periods.py checks the two agree across DST edges, in zones whose
clocks change at midnight too.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from asyncpg import Connection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.pagination import Keyset
from app.webhooks.events import READING_OVERDUE, emit_event

log = structlog.get_logger(__name__)


def _instant(local: str, zone: str = "sc.timezone") -> str:
    """SQL for the first instant of the local wall time `local` in the time zone `zone`, as
    `app.scoring.periods` chooses it. `AT TIME ZONE` already reads a time skipped by a DST gap
    as the first instant after the gap; but it reads a time that happens twice (a fall-back to
    midnight, e.g. America/Havana) as the later one, and a period starts at the earlier: the
    same wall time under the offset of three hours before (every DST step is shorter), when
    that names the same wall time."""
    later = f"(({local}) AT TIME ZONE {zone})"
    before = f"({later} - interval '3 hours')"
    offset_before = f"({before} AT TIME ZONE {zone} - {before} AT TIME ZONE 'UTC')"
    earlier = f"((({local}) - {offset_before}) AT TIME ZONE 'UTC')"
    return f"LEAST({later}, CASE WHEN {earlier} AT TIME ZONE {zone} = ({local}) THEN {earlier} END)"


def last_ended_periods(schedules: str) -> str:
    """SQL for the last period that has ended by $1 (as_of) of each schedule of `schedules`
    (a query with columns timezone and cadence): columns timezone, cadence, start, end, and
    end_day, the local date the period ends on (its due date counts from there).

    The period before the current one is the one holding the instant before the current one
    starts, as Python's previous_period (so a local day skipped altogether, Pacific/Apia
    2011-12-30, is no period of its own). Each step is fenced (OFFSET 0): inlined, the
    expressions nest into each other and grow several-fold."""
    return f"""
SELECT sc.timezone, sc.cadence, local_start.end_day, period.start, period_end."end"
FROM ({schedules}) sc
CROSS JOIN LATERAL (
    SELECT date_trunc(sc.cadence, CAST($1 AS timestamptz) AT TIME ZONE sc.timezone) AS local_end
    OFFSET 0
) local_end
CROSS JOIN LATERAL (SELECT {_instant("local_end.local_end")} AS "end" OFFSET 0) period_end
CROSS JOIN LATERAL (
    SELECT date_trunc(sc.cadence, (period_end."end" - interval '1 microsecond')
            AT TIME ZONE sc.timezone) AS local_start,
        date_trunc('day', period_end."end" AT TIME ZONE sc.timezone) AS end_day
    OFFSET 0
) local_start
CROSS JOIN LATERAL (SELECT {_instant("local_start.local_start")} AS start OFFSET 0) period
"""  # noqa: S608 (built from constants)


def due_instant(end_day: str, days: str, zone: str) -> str:
    """SQL for the due instant: local midnight `days` days after the local date `end_day`."""
    return _instant(f"{end_day} + make_interval(days => {days})", zone)


# The periods are cut once per zone in use and cadence (a few dozen rows, however many
# measures share them), then joined to the measures. A zone PostgreSQL does not know (a row
# the API would not write) leaves its scorecards out rather than failing the whole list; the
# fence (OFFSET 0) keeps that check on the distinct zones, not on every scorecard.
_SCHEDULES = (
    "SELECT zone.timezone, cadence"
    " FROM (SELECT DISTINCT timezone FROM scorecards OFFSET 0) zone,"
    " unnest(ARRAY['day', 'week', 'month', 'quarter', 'year']) AS cadence"
    " WHERE is_time_zone(zone.timezone)"
)
_PERIODS = f"periods AS MATERIALIZED ({last_ended_periods(_SCHEDULES)})"

# Every scheduled measure whose last ended period has no reading, with its state at $1. Only
# measures that take readings are scheduled (a derived measure cannot have a schedule).
_UNREPORTED = f"""
SELECT m.id AS measure_id, m.key AS measure_key, m.scorecard_id, m.owner,
    p.start AS period_start, p."end" AS period_end, due.due_at,
    CASE WHEN CAST($1 AS timestamptz) < due.due_at THEN 'due' ELSE 'overdue' END AS state
FROM measures m
JOIN scorecards s ON s.id = m.scorecard_id
JOIN periods p ON p.timezone = s.timezone AND p.cadence = m.cadence
CROSS JOIN LATERAL (
    SELECT {due_instant("p.end_day", "m.due_after_days", "s.timezone")} AS due_at
    OFFSET 0
) due
WHERE m.due_after_days IS NOT NULL AND m.formula IS NULL
  AND NOT EXISTS (
    SELECT FROM readings r
    WHERE r.measure_id = m.id AND r.observed_at >= p.start AND r.observed_at < p."end"
  )
"""  # noqa: S608 (built from constants)

KEYSET = Keyset(("measure_id",), (uuid.UUID,))
FILTERS = ("scorecard_id", "owner", "state")


def due_reading(row: Any) -> dict[str, Any]:
    """A row as DueReadingOut serialises it."""
    return {
        "measure_id": row["measure_id"],
        "measure_key": row["measure_key"],
        "scorecard_id": row["scorecard_id"],
        "owner": row["owner"],
        "period": {"start": row["period_start"], "end": row["period_end"]},
        "due_at": row["due_at"],
        "state": row["state"],
    }


async def list_due(
    connection: Connection,
    as_of: datetime,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of unreported last periods at `as_of`, by measure id. `filters`: FILTERS by
    equality, None for any."""
    conditions, params = [], list[Any]([as_of])
    for name in FILTERS:
        if (value := filters.get(name)) is not None:
            params.append(value)
            conditions.append(f"{name} = ${len(params)}")
    page, next_cursor = await KEYSET.fetch_page(
        connection,
        f"WITH {_PERIODS} SELECT * FROM ({_UNREPORTED}) unreported",  # noqa: S608 (constants)
        conditions,
        params,
        limit=limit,
        cursor=cursor,
    )
    return [due_reading(row) for row in page], next_cursor


# Overdue periods not announced yet: recorded and returned in one statement. The primary key
# of overdue_readings makes a second worker's insert of the same period a no-op (it waits for
# the first one's transaction, then skips), so each period is announced exactly once.
_ANNOUNCE = text(
    f"""
WITH {_PERIODS.replace("$1", ":now")}, overdue AS (
    SELECT * FROM ({_UNREPORTED.replace("$1", ":now")}) unreported WHERE state = 'overdue'
), recorded AS (
    INSERT INTO overdue_readings (measure_id, period_start, due_at)
    SELECT measure_id, period_start, due_at FROM overdue
    ON CONFLICT DO NOTHING
    RETURNING measure_id, period_start
)
SELECT overdue.* FROM overdue JOIN recorded USING (measure_id, period_start)
ORDER BY overdue.measure_id
"""  # noqa: S608 (constants)
)


_FORGET = text("DELETE FROM overdue_readings WHERE measure_id = :id")


async def forget_announced(session: AsyncSession, measure_id: uuid.UUID) -> None:
    """In the caller's transaction: the measure's announced periods are dropped, for a cadence
    change that cuts new ones. An announced period is named by its start, which a period of
    the new cadence may share (a quarter starts where its first month does): kept, it would
    stop that period's announcement. No period of the new cadence equals an old one."""
    await session.execute(_FORGET, {"id": measure_id})


async def sweep_overdue(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime | None = None
) -> int:
    """The worker's periodic job: announce what went overdue since the last pass (one
    transaction, one statement for every scorecard). Safe with several workers."""
    async with sessionmaker() as session:
        announced = await announce_overdue(session, now or datetime.now(UTC))
    if announced:
        log.info("readings overdue", announced=announced)
    return announced


async def announce_overdue(session: AsyncSession, now: datetime) -> int:
    """Record a `reading.overdue` event for each period that went overdue unreported by `now`
    and was not announced before; returns how many. Commits."""
    rows = (await session.execute(_ANNOUNCE, {"now": now})).mappings().all()
    for row in rows:
        # The due reading as the list shows it, without its `state` (overdue, by now).
        data = {k: v for k, v in due_reading(row).items() if k != "state"}
        await emit_event(session, READING_OVERDUE, data, scorecard_id=data["scorecard_id"])
    await session.commit()
    return len(rows)
