"""Period boundaries: local midnights of the scorecard's zone, DST-correct, returned in UTC."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.scoring import Cadence, Period, period_containing, periods_between, previous_period

NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("instant", "cadence", "tz", "start", "end"),
    [
        # New York is UTC-5 in January: local midnight is 05:00Z.
        (utc(2026, 1, 15, 5), Cadence.day, NEW_YORK, utc(2026, 1, 15, 5), utc(2026, 1, 16, 5)),
        # One microsecond before local midnight is still the day before.
        (
            utc(2026, 1, 15, 4, 59, 59, 999999),
            Cadence.day,
            NEW_YORK,
            utc(2026, 1, 14, 5),
            utc(2026, 1, 15, 5),
        ),
        # DST starts 2026-03-08 (02:00 -> 03:00): midnight is UTC-5, the next one UTC-4: 23 h.
        (utc(2026, 3, 8, 16), Cadence.day, NEW_YORK, utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)),
        # DST ends 2026-11-01 (02:00 -> 01:00): midnight is UTC-4, the next one UTC-5: 25 h.
        (utc(2026, 11, 1, 16), Cadence.day, NEW_YORK, utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)),
        # Kolkata is UTC+05:30: 2026-01-31T18:30Z is 1 February 00:00 local.
        (
            utc(2026, 1, 31, 18, 30),
            Cadence.month,
            KOLKATA,
            utc(2026, 1, 31, 18, 30),
            utc(2026, 2, 28, 18, 30),
        ),
        (
            utc(2026, 1, 31, 18, 29),
            Cadence.month,
            KOLKATA,
            utc(2025, 12, 31, 18, 30),
            utc(2026, 1, 31, 18, 30),
        ),
        # Leap year: February 2028 has 29 days.
        (utc(2028, 2, 29, 12), Cadence.month, ZoneInfo("UTC"), utc(2028, 2, 1), utc(2028, 3, 1)),
        # Thursday 2026-12-31 is in the ISO week of Monday 2026-12-28, which ends in 2027.
        (utc(2026, 12, 31, 12), Cadence.week, ZoneInfo("UTC"), utc(2026, 12, 28), utc(2027, 1, 4)),
        # A Monday starts its own week.
        (utc(2026, 6, 1), Cadence.week, ZoneInfo("UTC"), utc(2026, 6, 1), utc(2026, 6, 8)),
        (utc(2026, 5, 15), Cadence.quarter, ZoneInfo("UTC"), utc(2026, 4, 1), utc(2026, 7, 1)),
        (utc(2026, 11, 2), Cadence.quarter, ZoneInfo("UTC"), utc(2026, 10, 1), utc(2027, 1, 1)),
        # EDT (UTC-4) on 1 July, EST (UTC-5) on 1 October.
        (utc(2026, 8, 1), Cadence.quarter, NEW_YORK, utc(2026, 7, 1, 4), utc(2026, 10, 1, 4)),
        (
            utc(2026, 6, 1),
            Cadence.year,
            KOLKATA,
            utc(2025, 12, 31, 18, 30),
            utc(2026, 12, 31, 18, 30),
        ),
        # America/Santiago skips midnight on 2023-09-03 (00:00 -> 01:00 at 04:00Z).
        (
            utc(2023, 9, 3, 12),
            Cadence.day,
            ZoneInfo("America/Santiago"),
            utc(2023, 9, 3, 4),
            utc(2023, 9, 4, 3),
        ),
        # America/Havana repeats 00:00-01:00 on 2023-11-05: the day starts at the first midnight.
        (
            utc(2023, 11, 5, 4, 30),
            Cadence.day,
            ZoneInfo("America/Havana"),
            utc(2023, 11, 5, 4),
            utc(2023, 11, 6, 5),
        ),
    ],
)
def test_period_containing(
    instant: datetime, cadence: Cadence, tz: ZoneInfo, start: datetime, end: datetime
) -> None:
    period = period_containing(instant, cadence, tz)
    assert period == Period(start, end)
    assert period.start.tzinfo is UTC and period.end.tzinfo is UTC


def test_dst_days_last_23_and_25_hours() -> None:
    spring = period_containing(utc(2026, 3, 8, 12), Cadence.day, NEW_YORK)
    autumn = period_containing(utc(2026, 11, 1, 12), Cadence.day, NEW_YORK)
    assert spring.end - spring.start == timedelta(hours=23)
    assert autumn.end - autumn.start == timedelta(hours=25)


def test_previous_period_is_the_bucket_before() -> None:
    january = period_containing(utc(2026, 1, 10), Cadence.month, ZoneInfo("UTC"))
    assert previous_period(january, Cadence.month, ZoneInfo("UTC")) == Period(
        utc(2025, 12, 1), utc(2026, 1, 1)
    )
    week = period_containing(utc(2026, 12, 31), Cadence.week, ZoneInfo("UTC"))
    assert previous_period(week, Cadence.week, ZoneInfo("UTC")) == Period(
        utc(2026, 12, 21), utc(2026, 12, 28)
    )


def test_periods_between_lists_every_overlapping_period() -> None:
    # From noon local on 7 March to midnight local on 9 March: 7 and 8 March (9 March starts at
    # the exclusive end).
    start = datetime(2026, 3, 7, 12, tzinfo=NEW_YORK)
    end = datetime(2026, 3, 9, tzinfo=NEW_YORK)
    assert periods_between(start, end, Cadence.day, NEW_YORK) == [
        Period(utc(2026, 3, 7, 5), utc(2026, 3, 8, 5)),
        Period(utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)),
    ]
    assert periods_between(end, start, Cadence.day, NEW_YORK) == []
    assert periods_between(end, end, Cadence.day, NEW_YORK) == []


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period_containing(datetime(2026, 1, 1), Cadence.day, NEW_YORK)
    with pytest.raises(ValueError, match="timezone-aware"):
        periods_between(datetime(2026, 1, 1), utc(2026, 2, 1), Cadence.day, NEW_YORK)


ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Santiago"]


@given(
    instant=st.datetimes(
        min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC)
    ),
    cadence=st.sampled_from(list(Cadence)),
    zone=st.sampled_from(ZONES),
)
def test_every_instant_lies_in_its_period_and_periods_tile(
    instant: datetime, cadence: Cadence, zone: str
) -> None:
    tz = ZoneInfo(zone)
    period = period_containing(instant, cadence, tz)
    assert period.start <= instant < period.end
    assert (
        period.start.astimezone(tz).date()
        != (period.start - timedelta(microseconds=1)).astimezone(tz).date()
    )
    assert previous_period(period, cadence, tz).end == period.start
    assert period_containing(period.end, cadence, tz).start == period.end
