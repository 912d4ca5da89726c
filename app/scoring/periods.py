"""Period boundaries: the one place that knows how a cadence cuts time in a scorecard's zone.

Periods are half-open `[start, end)`. Boundaries are local midnights in the scorecard's IANA zone,
returned as UTC-aware datetimes, so a "day" lasts 23 or 25 hours across a DST change.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

# PostgreSQL timestamps have microsecond resolution, so this is the smallest step between instants.
MICROSECOND = timedelta(microseconds=1)


class Cadence(StrEnum):
    day = "day"
    week = "week"  # ISO week, starting on Monday
    month = "month"
    quarter = "quarter"
    year = "year"


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


def require_aware(instant: datetime, name: str = "instant") -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {instant.isoformat()}")


def period_containing(instant: datetime, cadence: Cadence, tz: ZoneInfo) -> Period:
    require_aware(instant)
    return _period_of_day(instant.astimezone(tz).date(), cadence, tz)


# Every score asks for the same few periods over and over (all measures of a cadence share one),
# and zone arithmetic is the engine's most expensive step: remember the answers. The one memo
# left at module level, on purpose: it caches a pure function of its (immutable) arguments, so
# no answer can go stale and there is nothing for an owner to reset; the app's caches of data
# are objects with reset() that the lifespan builds (app.main).
@lru_cache(maxsize=8192)
def _period_of_day(day: date, cadence: Cadence, tz: ZoneInfo) -> Period:
    first_day = _first_day(day, cadence)
    return Period(
        _start_of_day(first_day, tz), _start_of_day(_next_first_day(first_day, cadence), tz)
    )


def previous_period(period: Period, cadence: Cadence, tz: ZoneInfo) -> Period:
    return period_containing(period.start - MICROSECOND, cadence, tz)


def periods_between(start: datetime, end: datetime, cadence: Cadence, tz: ZoneInfo) -> list[Period]:
    """Every period overlapping `[start, end)`, oldest first (empty when end <= start)."""
    require_aware(start, "start")
    require_aware(end, "end")
    periods: list[Period] = []
    if end <= start:
        return periods
    period = period_containing(start, cadence, tz)
    while period.start < end:
        periods.append(period)
        period = period_containing(period.end, cadence, tz)
    return periods


def _first_day(day: date, cadence: Cadence) -> date:
    match cadence:
        case Cadence.day:
            return day
        case Cadence.week:
            return day - timedelta(days=day.weekday())
        case Cadence.month:
            return day.replace(day=1)
        case Cadence.quarter:
            return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        case Cadence.year:
            return date(day.year, 1, 1)


def _next_first_day(first_day: date, cadence: Cadence) -> date:
    match cadence:
        case Cadence.day:
            return first_day + timedelta(days=1)
        case Cadence.week:
            return first_day + timedelta(days=7)
        case Cadence.month:
            return _add_months(first_day, 1)
        case Cadence.quarter:
            return _add_months(first_day, 3)
        case Cadence.year:
            return date(first_day.year + 1, 1, 1)


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.month - 1 + months
    return date(first_of_month.year + index // 12, index % 12 + 1, 1)


def _start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of `day` in `tz`, in UTC.

    Local midnight can be skipped (a DST gap at 00:00, e.g. America/Santiago) or happen twice (a
    fall-back to 00:00, e.g. America/Havana): take the earliest reading of midnight that really
    falls on `day`.
    """
    midnight = datetime.combine(day, time(), tzinfo=tz)
    candidates = sorted(midnight.replace(fold=fold).astimezone(UTC) for fold in (0, 1))
    return next(c for c in candidates if c.astimezone(tz).date() >= day)
