"""The due list cuts periods in SQL; the engine cuts them in Python (app/scoring/periods.py).
They must agree, across DST changes, in zones whose clocks jump at midnight too. (Both read
their own copy of the tz database: a zone whose rules changed recently, such as
America/Asuncion in 2024, differs until both copies know the change.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.readings.due import due_instant, last_ended_periods
from app.scoring import Cadence, period_containing, previous_period
from app.scoring.periods import _start_of_day

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",  # spring forward at midnight: local 00:00 does not exist
    "America/Havana",  # fall back to midnight: local 00:00 happens twice
    "Asia/Beirut",
    "Africa/Cairo",
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # a 30-minute DST step
    "Pacific/Apia",  # skipped 2011-12-30 altogether
    "Asia/Tehran",
]

# Every zone with every cadence, due three days after the period ends.
_LAST_ENDED = f"""
SELECT p.timezone, p.cadence, p.start, p."end", {
    due_instant("p.end_day", "3", "p.timezone")
} AS due_at
FROM ({
    last_ended_periods(
        "SELECT timezone, cadence"
        " FROM unnest($2::text[]) AS timezone, unnest($3::text[]) AS cadence"
    )
}) p
"""


def _instants() -> list[datetime]:
    """Noon UTC every day over the years with the awkward transitions, and both sides of
    every UTC midnight."""
    start = datetime(2011, 12, 25, tzinfo=UTC)
    days = [start + timedelta(days=d) for d in range(0, 20)]
    days += [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in range(366)]
    return [t + offset for t in days for offset in (timedelta(hours=12), timedelta(0))]


async def test_sql_and_python_agree_on_the_last_ended_period(app):
    cadences = [c.value for c in Cadence]
    mismatches = []
    async with app.state.read_pool.acquire() as connection:
        for as_of in _instants():
            rows = await connection.fetch(_LAST_ENDED, as_of, ZONES, cadences)
            for row in rows:
                zone = ZoneInfo(row["timezone"])
                cadence = Cadence(row["cadence"])
                expected = previous_period(period_containing(as_of, cadence, zone), cadence, zone)
                # Local midnight three days after the period's last day ends.
                due = _start_of_day(expected.end.astimezone(zone).date() + timedelta(days=3), zone)
                if (row["start"], row["end"], row["due_at"]) != (expected.start, expected.end, due):
                    mismatches.append((as_of, row["timezone"], cadence, dict(row), expected, due))
    assert mismatches[:3] == []
