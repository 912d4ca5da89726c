"""Target schedules: for each period, the last step starting at or before the period's start
replaces the measure's own baseline, target, range or thresholds."""

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scoring import (
    Cadence,
    Direction,
    PeriodSelector,
    Status,
    TargetStep,
    Thresholds,
    evaluate_measure,
    evaluate_measure_history,
    measure_history_points,
    measure_history_windows,
    measure_windows,
)

from .test_scoring_builders import fetch, id_of, measure, scorecard, utc
from .test_scoring_properties import AS_OF, Case, cases, evaluate

DOUBLED_FROM_JULY = (TargetStep(utc(2026, 7, 1), target=200.0),)


def history(card, key, start, end, now, readings):
    points = measure_history_points(card, id_of(key), start, end, now)
    stats = fetch(card, measure_history_windows(card, id_of(key), points), readings)
    return evaluate_measure_history(card, id_of(key), points, stats)


def test_a_step_doubles_the_target_from_july_on() -> None:
    # baseline 0, target 100; from July 200. Latest value 100 (observed in June).
    card = scorecard(measure("m", targets=DOUBLED_FROM_JULY))
    readings = {"m": [(utc(2026, 6, 10), 100.0)]}
    entries = history(card, "m", utc(2026, 6, 1), utc(2026, 8, 1), utc(2026, 7, 15), readings)
    assert [(e.period.start, e.target, e.progress, e.status) for e in entries] == [
        (utc(2026, 6, 1), 100.0, 100.0, Status.green),  # 100 / 100
        (utc(2026, 7, 1), 200.0, 50.0, Status.red),  # 100 / 200
    ]
    assert [(e.baseline, e.target_min, e.target_max) for e in entries] == [(0.0, None, None)] * 2


def test_the_score_shows_the_values_in_effect_and_the_trend_compares_across_a_step() -> None:
    card = scorecard(measure("m", targets=DOUBLED_FROM_JULY))
    as_of = utc(2026, 7, 2)
    readings = {"m": [(utc(2026, 6, 10), 100.0)]}
    windows = measure_windows(card, id_of("m"), as_of, PeriodSelector.current)
    result = evaluate_measure(
        card, id_of("m"), as_of, PeriodSelector.current, fetch(card, windows, readings)
    )
    assert (result.baseline, result.target, result.progress, result.score) == (0, 200, 50, 50)
    assert result.trend is not None
    assert (result.trend.previous_score, result.trend.delta) == (100.0, -50.0)  # June: 100/100


def test_the_last_step_at_or_before_the_period_start_is_in_effect() -> None:
    steps = (
        TargetStep(utc(2026, 2, 1), baseline=10.0, target=50.0),
        TargetStep(utc(2026, 3, 15), target=60.0),  # mid-March: in effect from April
        TargetStep(utc(2026, 5, 1), target=80.0),
    )
    card = scorecard(measure("m", targets=steps))
    readings = {"m": [(utc(2026, 1, 5), 40.0)]}
    entries = history(card, "m", utc(2026, 1, 1), utc(2026, 6, 1), utc(2026, 6, 1), readings)
    # A step gives only what it names; the rest is the measure's own (not an earlier step's).
    assert [(e.baseline, e.target, e.progress) for e in entries] == [
        (0.0, 100.0, 40.0),  # January: the measure's own, 40/100
        (10.0, 50.0, 75.0),  # February: (40-10)/(50-10)
        (10.0, 50.0, 75.0),  # March: the step of March 15 starts after March 1
        (0.0, 60.0, 66.666667),  # April: 40/60
        (0.0, 80.0, 50.0),  # May: 40/80
    ]


def test_a_step_can_set_thresholds_and_a_range() -> None:
    ranged = measure(
        "r",
        direction=Direction.range,
        baseline=None,
        target=None,
        target_min=10.0,
        target_max=20.0,
        tolerance=10.0,
        targets=(
            TargetStep(utc(2026, 7, 1), target_min=25.0, target_max=30.0),
            TargetStep(utc(2026, 8, 1), thresholds=Thresholds(green=40, amber=20)),
        ),
    )
    card = scorecard(ranged)
    readings = {"r": [(utc(2026, 6, 10), 20.0)]}
    entries = history(card, "r", utc(2026, 6, 1), utc(2026, 9, 1), utc(2026, 9, 1), readings)
    assert [(e.target_min, e.target_max, e.progress, e.status) for e in entries] == [
        (10.0, 20.0, 100.0, Status.green),
        (25.0, 30.0, 50.0, Status.red),  # 5 below 25, tolerance 10
        (10.0, 20.0, 100.0, Status.green),  # the August step names thresholds only
    ]
    readings = {"r": [(utc(2026, 6, 10), 35.0)]}  # 15 above 20: progress -50 → score 0
    entries = history(card, "r", utc(2026, 8, 1), utc(2026, 9, 1), utc(2026, 9, 1), readings)
    assert [(e.score, e.status) for e in entries] == [(0.0, Status.red)]


def test_steps_are_judged_in_the_scorecards_time_zone_periods() -> None:
    # Berlin's July starts 2026-06-30T22:00Z; a step from 22:00Z is in effect for July.
    card = scorecard(
        measure("m", targets=(TargetStep(utc(2026, 6, 30, 22), target=200.0),)),
        timezone="Europe/Berlin",
    )
    readings = {"m": [(utc(2026, 6, 10), 100.0)]}
    entries = history(card, "m", utc(2026, 6, 15), utc(2026, 7, 15), utc(2026, 7, 15), readings)
    assert [e.target for e in entries] == [100.0, 200.0]
    late = scorecard(
        measure("m", targets=(TargetStep(utc(2026, 6, 30, 22, 0, 1), target=200.0),)),
        timezone="Europe/Berlin",
    )
    entries = history(late, "m", utc(2026, 6, 15), utc(2026, 7, 15), utc(2026, 7, 15), readings)
    assert [e.target for e in entries] == [100.0, 100.0]


def test_a_schedule_that_breaks_the_direction_or_order_is_refused() -> None:
    with pytest.raises(ValueError, match="increase needs target > baseline"):
        measure("m", targets=(TargetStep(utc(2026, 7, 1), baseline=150.0),))
    with pytest.raises(ValueError, match="strictly ascending"):
        measure(
            "m",
            targets=(
                TargetStep(utc(2026, 7, 1), target=200.0),
                TargetStep(utc(2026, 7, 1), target=300.0),
            ),
        )


@settings(max_examples=100, deadline=None)
@given(
    case=cases(),
    offset_days=st.integers(-400, 400),
    selector=st.sampled_from(list(PeriodSelector)),
)
def test_a_step_that_repeats_the_measures_own_values_changes_nothing(
    case: Case, offset_days: int, selector: PeriodSelector
) -> None:
    def repeating(m):
        step = TargetStep(
            AS_OF + timedelta(days=offset_days),
            baseline=m.baseline,
            target=m.target,
            target_min=m.target_min,
            target_max=m.target_max,
            thresholds=m.thresholds,
        )
        return replace(m, targets=(step,))

    scheduled = replace(case.card, measures=[repeating(m) for m in case.card.measures])
    assert evaluate(Case(scheduled, case.readings), selector) == evaluate(case, selector)


def test_every_cadence_picks_the_step_by_its_own_period_start() -> None:
    # A step from Wednesday 2026-07-01: weekly periods starting Mon 2026-06-29 keep the old
    # target, the week of Mon 2026-07-06 has the new one; daily from July 1 itself.
    steps = DOUBLED_FROM_JULY
    weekly = scorecard(measure("w", cadence=Cadence.week, targets=steps))
    readings = {"w": [(utc(2026, 6, 1), 100.0)]}
    entries = history(weekly, "w", utc(2026, 6, 29), utc(2026, 7, 13), utc(2026, 7, 13), readings)
    assert [e.target for e in entries] == [100.0, 200.0]
    daily = scorecard(measure("d", cadence=Cadence.day, targets=steps))
    readings = {"d": [(utc(2026, 6, 1), 100.0)]}
    entries = history(daily, "d", utc(2026, 6, 30), utc(2026, 7, 2), utc(2026, 7, 2), readings)
    assert [e.target for e in entries] == [100.0, 200.0]
