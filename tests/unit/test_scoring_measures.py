"""One measure's value, progress, score, status and trend (docs/scoring.md, steps 1-6).

Unless a test says otherwise: UTC, monthly cadence, as_of = 2026-06-16T00:00Z, so the period is
June [06-01, 07-01), 30 days, and half of it has elapsed.
"""

from datetime import datetime, timedelta
from typing import Any

import pytest

from app.scoring import (
    Aggregation,
    Cadence,
    Direction,
    MeasureScore,
    Period,
    PeriodSelector,
    ScorecardDefinition,
    Status,
    Thresholds,
    evaluate_measure,
    evaluate_scorecard,
    measure_windows,
    scorecard_windows,
)

from .test_scoring_builders import Readings, fetch, id_of, measure, scorecard, utc

AS_OF = utc(2026, 6, 16)
JUNE = Period(utc(2026, 6, 1), utc(2026, 7, 1))


def evaluate(
    card: ScorecardDefinition,
    key: str,
    readings: Readings,
    as_of: datetime = AS_OF,
    selector: PeriodSelector = PeriodSelector.current,
) -> MeasureScore:
    windows = measure_windows(card, id_of(key), as_of, selector)
    return evaluate_measure(card, id_of(key), as_of, selector, fetch(card, windows, readings))


def one(key: str = "m", **fields: Any) -> ScorecardDefinition:
    return scorecard(measure(key, **fields))


# Readings of measure "m": one in May, three in June before as_of, one in June after as_of.
MIXED = {
    "m": [
        (utc(2026, 5, 20), 50.0),
        (utc(2026, 6, 2), 10.0),
        (utc(2026, 6, 10), 30.0),
        (utc(2026, 6, 15), 20.0),
        (utc(2026, 6, 20), 99.0),  # after as_of: never seen
    ]
}


@pytest.mark.parametrize(
    ("aggregation", "value"),
    [
        (Aggregation.latest, 20.0),  # the 06-15 reading
        (Aggregation.sum, 60.0),  # 10 + 30 + 20
        (Aggregation.count, 3.0),
        (Aggregation.mean, 20.0),  # 60 / 3
        (Aggregation.min, 10.0),
        (Aggregation.max, 30.0),
    ],
)
def test_aggregations(aggregation: Aggregation, value: float) -> None:
    result = evaluate(one(aggregation=aggregation), "m", MIXED)
    # baseline 0, target 100: progress = value.
    assert (result.value, result.progress, result.score) == (value, value, value)
    assert result.period == JUNE
    assert result.readings_in_period == 3
    assert result.last_observed_at == utc(2026, 6, 15)
    assert result.stale is False


@pytest.mark.parametrize(
    ("aggregation", "value", "status"),
    [
        (Aggregation.latest, None, Status.no_data),
        (Aggregation.sum, 0.0, Status.red),  # no readings sum to 0: progress 0
        (Aggregation.count, 0.0, Status.red),
        (Aggregation.mean, None, Status.no_data),
        (Aggregation.min, None, Status.no_data),
        (Aggregation.max, None, Status.no_data),
    ],
)
def test_no_readings(aggregation: Aggregation, value: float | None, status: Status) -> None:
    result = evaluate(one(aggregation=aggregation), "m", {})
    assert (result.value, result.status) == (value, status)
    assert result.coverage == (0.0 if value is None else 1.0)
    assert (result.stale, result.last_observed_at, result.readings_in_period) == (False, None, 0)
    if value is None:
        assert (result.progress, result.score, result.trend) == (None, None, None)


def test_latest_from_an_earlier_period_is_stale() -> None:
    result = evaluate(one(), "m", {"m": [(utc(2026, 5, 20), 50.0)]})
    assert (result.value, result.score, result.stale) == (50.0, 50.0, True)
    assert (result.last_observed_at, result.readings_in_period) == (utc(2026, 5, 20), 0)


def test_reading_at_as_of_counts_and_one_microsecond_later_does_not() -> None:
    readings = {"m": [(AS_OF, 40.0), (AS_OF + timedelta(microseconds=1), 90.0)]}
    assert evaluate(one(aggregation=Aggregation.sum), "m", readings).value == 40.0
    assert evaluate(one(), "m", readings).value == 40.0


def test_previous_period_sees_every_reading_before_its_end() -> None:
    readings = {
        "m": [
            (utc(2026, 5, 31, 23, 59, 59, 999999), 5.0),  # last instant of May
            (utc(2026, 6, 1), 7.0),  # first instant of June
            (utc(2026, 6, 30, 23, 59, 59, 999999), 11.0),  # last instant of June
            (utc(2026, 7, 1), 13.0),  # July: not in the previous period
        ]
    }
    as_of = utc(2026, 7, 10)
    result = evaluate(
        one(aggregation=Aggregation.sum), "m", readings, as_of, PeriodSelector.previous
    )
    assert result.period == JUNE
    assert result.value == 18.0  # 7 + 11
    # Trend: May closed, sum 5 -> score 5; June 18 -> delta 13.
    assert result.trend is not None
    assert (result.trend.previous_score, result.trend.delta) == (5.0, 13.0)


def test_period_follows_the_scorecard_timezone() -> None:
    # 2026-07-01T03:00Z is 30 June 23:00 in New York (UTC-4), so it counts for June there.
    card = scorecard(measure("m", aggregation=Aggregation.sum), timezone="America/New_York")
    readings = {"m": [(utc(2026, 7, 1, 3), 8.0), (utc(2026, 6, 1, 3), 4.0)]}
    result = evaluate(card, "m", readings, utc(2026, 7, 1, 3, 30))
    assert result.period == Period(utc(2026, 6, 1, 4), utc(2026, 7, 1, 4))
    assert result.value == 8.0  # the 06-01T03:00Z reading is 31 May local


@pytest.mark.parametrize(
    ("fields", "value", "progress"),
    [
        ({"baseline": 20.0, "target": 70.0}, 45.0, 50.0),  # (45-20)/(70-20)*100
        ({"baseline": 20.0, "target": 70.0}, 10.0, -20.0),  # (10-20)/50*100
        ({"direction": Direction.decrease, "baseline": 10.0, "target": 2.0}, 4.0, 75.0),  # -6/-8
        ({"direction": Direction.decrease, "baseline": 10.0, "target": 2.0}, 1.0, 112.5),  # -9/-8
    ],
)
def test_increase_and_decrease(fields: dict[str, Any], value: float, progress: float) -> None:
    card = scorecard(measure("m", **fields), score_cap=200)
    result = evaluate(card, "m", {"m": [(utc(2026, 6, 2), value)]})
    assert result.progress == pytest.approx(progress)


RANGE = {
    "direction": Direction.range,
    "baseline": None,
    "target": None,
    "target_min": 40.0,
    "target_max": 60.0,
    "tolerance": 10.0,
}


@pytest.mark.parametrize(
    ("value", "progress", "score"),
    [
        (50.0, 100.0, 100.0),  # inside
        (40.0, 100.0, 100.0),  # bounds are inside
        (60.0, 100.0, 100.0),
        (63.0, 70.0, 70.0),  # 3 above: 100*(1-3/10)
        (35.0, 50.0, 50.0),  # 5 below: 100*(1-5/10)
        (75.0, -50.0, 0.0),  # 15 above: 100*(1-15/10) = -50, score clamps to 0
    ],
)
def test_range(value: float, progress: float, score: float) -> None:
    result = evaluate(one(**RANGE), "m", {"m": [(utc(2026, 6, 2), value)]})
    assert result.progress == pytest.approx(progress)
    assert result.score == pytest.approx(score)


PRORATED = {"aggregation": Aggregation.sum, "prorate": True, "baseline": 0.0, "target": 300.0}


@pytest.mark.parametrize(
    ("fields", "as_of", "selector", "readings", "progress"),
    [
        # First instant of June: elapsed 0, baseline = target = 0; a value at or above 0 is on
        # track for an increase.
        (PRORATED, utc(2026, 6, 1), PeriodSelector.current, [(utc(2026, 6, 1), 5.0)], 100.0),
        (PRORATED, utc(2026, 6, 1), PeriodSelector.current, [], 100.0),
        # Decrease from 30 to 0 scaled to 0 and 0: 0 is on track, 5 is not.
        (
            PRORATED | {"direction": Direction.decrease, "baseline": 30.0, "target": 0.0},
            utc(2026, 6, 1),
            PeriodSelector.current,
            [],
            100.0,
        ),
        (
            PRORATED | {"direction": Direction.decrease, "baseline": 30.0, "target": 0.0},
            utc(2026, 6, 1),
            PeriodSelector.current,
            [(utc(2026, 6, 1), 5.0)],
            0.0,
        ),
        # Middle: elapsed 15/30 = 0.5, target 150: 100/150*100.
        (PRORATED, AS_OF, PeriodSelector.current, [(utc(2026, 6, 2), 100.0)], 200 / 3),
        # Baseline 60 scales to 30, target to 150: (100-30)/(150-30)*100.
        (
            PRORATED | {"baseline": 60.0},
            AS_OF,
            PeriodSelector.current,
            [(utc(2026, 6, 2), 100.0)],
            175 / 3,
        ),
        # Last instant: the closed period, elapsed 1: 100/300*100.
        (
            PRORATED,
            utc(2026, 7, 5),
            PeriodSelector.previous,
            [(utc(2026, 6, 2), 100.0)],
            100 / 3,
        ),
        # count prorates too: 6 June 12:00 is 5.5/30 elapsed; target 3 -> 0.55; 1/0.55*100.
        (
            PRORATED | {"aggregation": Aggregation.count, "target": 3.0},
            utc(2026, 6, 6, 12),
            PeriodSelector.current,
            [(utc(2026, 6, 2), 9.0)],
            100 / 0.55,
        ),
    ],
)
def test_prorate(
    fields: dict[str, Any],
    as_of: datetime,
    selector: PeriodSelector,
    readings: list[tuple[datetime, float]],
    progress: float,
) -> None:
    card = scorecard(measure("m", **fields), score_cap=200)
    result = evaluate(card, "m", {"m": readings}, as_of, selector)
    assert result.progress == pytest.approx(progress)


@pytest.mark.parametrize(
    ("value", "score_cap", "score"),
    [
        (150.0, 100, 100.0),  # progress 150 capped at 100
        (150.0, 120, 120.0),
        (130.0, 150, 130.0),
        (-10.0, 100, 0.0),  # progress -10 clamps to 0
        (0.0, 100, 0.0),
    ],
)
def test_score_is_clamped(value: float, score_cap: float, score: float) -> None:
    card = scorecard(measure("m"), score_cap=score_cap)
    result = evaluate(card, "m", {"m": [(utc(2026, 6, 2), value)]})
    assert (result.progress, result.score) == (value, score)


@pytest.mark.parametrize(
    ("value", "thresholds", "status"),
    [
        (90.0, None, Status.green),  # bounds are inclusive
        (89.99, None, Status.amber),
        (70.0, None, Status.amber),
        (69.99, None, Status.red),
        # The measure's own thresholds win over the scorecard's (90/70).
        (85.0, Thresholds(green=80, amber=50), Status.green),
        (60.0, Thresholds(green=80, amber=50), Status.amber),
        (49.0, Thresholds(green=80, amber=50), Status.red),
    ],
)
def test_status(value: float, thresholds: Thresholds | None, status: Status) -> None:
    result = evaluate(one(thresholds=thresholds), "m", {"m": [(utc(2026, 6, 2), value)]})
    assert result.status == status


@pytest.mark.parametrize(
    ("may", "june", "delta", "direction"),
    [
        (40.0, 60.0, 20.0, "up"),
        (60.0, 40.0, -20.0, "down"),
        (50.0, 50.005, 0.005, "flat"),  # |delta| < 0.01
        (50.0, 50.02, 0.02, "up"),
    ],
)
def test_trend(may: float, june: float, delta: float, direction: str) -> None:
    readings = {"m": [(utc(2026, 5, 10), may), (utc(2026, 6, 10), june)]}
    trend = evaluate(one(), "m", readings).trend
    assert trend is not None
    assert trend.previous_score == may
    assert trend.delta == pytest.approx(delta)
    assert trend.direction == direction


def test_no_trend_without_a_previous_score() -> None:
    assert evaluate(one(), "m", {"m": [(utc(2026, 6, 10), 60.0)]}).trend is None


def test_trend_uses_the_measure_cadence() -> None:
    # Weekly: as_of Tuesday 2026-06-16 is in the week of Monday 06-15; the previous week starts
    # on 06-08. Sums: this week 4, last week 2 + 3.
    card = one(cadence=Cadence.week, aggregation=Aggregation.sum)
    readings = {"m": [(utc(2026, 6, 8), 2.0), (utc(2026, 6, 14, 23), 3.0), (utc(2026, 6, 15), 4.0)]}
    result = evaluate(card, "m", readings)
    assert result.period == Period(utc(2026, 6, 15), utc(2026, 6, 22))
    assert result.trend is not None
    assert (result.value, result.trend.previous_score, result.trend.delta) == (4.0, 5.0, -1.0)


def test_measure_endpoint_matches_the_scorecard_entry() -> None:
    card = scorecard(
        measure("m", aggregation=Aggregation.mean), measure("n", perspective="customer")
    )
    windows = scorecard_windows(card, AS_OF, PeriodSelector.current)
    stats = fetch(card, windows, MIXED | {"n": [(utc(2026, 6, 3), 77.0)]})
    whole = evaluate_scorecard(card, AS_OF, PeriodSelector.current, stats)
    assert measure_windows(card, id_of("m"), AS_OF, PeriodSelector.current) <= windows
    alone = evaluate_measure(card, id_of("m"), AS_OF, PeriodSelector.current, stats)
    assert whole.perspectives[0].measures == [alone]


def test_unknown_measure_and_naive_as_of_are_rejected() -> None:
    with pytest.raises(ValueError, match="not in scorecard"):
        measure_windows(one(), id_of("other"), AS_OF, PeriodSelector.current)
    with pytest.raises(ValueError, match="timezone-aware"):
        measure_windows(one(), id_of("m"), datetime(2026, 6, 16), PeriodSelector.current)
