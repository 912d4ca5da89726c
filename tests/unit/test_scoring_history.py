"""History: one entry per period for charts, evaluated with one fetch of windows."""

from app.scoring import (
    Aggregation,
    Cadence,
    Period,
    PeriodSelector,
    Status,
    evaluate_measure_history,
    evaluate_scorecard,
    evaluate_scorecard_history,
    measure_history_points,
    measure_history_windows,
    scorecard_history_points,
    scorecard_history_windows,
    scorecard_windows,
)

from .test_scoring_builders import fetch, id_of, measure, scorecard, utc

NOW = utc(2026, 6, 16)


def test_measure_history_has_one_entry_per_started_period() -> None:
    card = scorecard(measure("m", aggregation=Aggregation.sum))
    readings = {
        "m": [
            (utc(2026, 4, 10), 10.0),
            (utc(2026, 5, 5), 20.0),
            (utc(2026, 6, 2), 30.0),
            (utc(2026, 6, 20), 40.0),  # after now
        ]
    }
    # July and August have not started by now: no entries.
    points = measure_history_points(card, id_of("m"), utc(2026, 4, 1), utc(2026, 9, 1), NOW)
    stats = fetch(card, measure_history_windows(card, id_of("m"), points), readings)
    entries = evaluate_measure_history(card, id_of("m"), points, stats)
    assert [(e.period.start, e.value, e.score, e.status) for e in entries] == [
        (utc(2026, 4, 1), 10.0, 10.0, Status.red),
        (utc(2026, 5, 1), 20.0, 20.0, Status.red),
        (utc(2026, 6, 1), 30.0, 30.0, Status.red),  # June so far
    ]
    assert entries[-1].period == Period(utc(2026, 6, 1), utc(2026, 7, 1))
    # Closed months are evaluated at their end, June at now.
    assert [(p.instant, p.until) for p in points[:2]] == [
        (utc(2026, 5, 1), utc(2026, 5, 1)),
        (utc(2026, 6, 1), utc(2026, 6, 1)),
    ]
    assert points[2].instant == NOW


def test_measure_history_prorates_the_open_period() -> None:
    # June at now: elapsed 15/30, target 300 -> 150; 30/150*100 = 20. May closed: 20/300*100.
    card = scorecard(
        measure("m", aggregation=Aggregation.sum, prorate=True, target=300.0),
    )
    readings = {"m": [(utc(2026, 5, 5), 20.0), (utc(2026, 6, 2), 30.0)]}
    points = measure_history_points(card, id_of("m"), utc(2026, 5, 1), utc(2026, 7, 1), NOW)
    stats = fetch(card, measure_history_windows(card, id_of("m"), points), readings)
    progress = [e.progress for e in evaluate_measure_history(card, id_of("m"), points, stats)]
    assert progress == [6.666667, 20.0]  # 20 / 3, to 6 decimal places


def test_scorecard_history_by_month() -> None:
    card = scorecard(
        measure("monthly"),
        measure("daily", perspective="customer", cadence=Cadence.day),
    )
    readings = {
        "monthly": [(utc(2026, 4, 3), 60.0), (utc(2026, 5, 7), 80.0)],
        "daily": [(utc(2026, 4, 30, 12), 100.0), (utc(2026, 5, 15), 40.0)],
    }
    points = scorecard_history_points(card, utc(2026, 3, 1), utc(2026, 7, 1), NOW)
    stats = fetch(card, scorecard_history_windows(card, points), readings)
    entries = evaluate_scorecard_history(card, points, stats)
    assert [(e.period.start, e.score, e.status, e.coverage) for e in entries] == [
        (utc(2026, 3, 1), None, Status.no_data, 0.0),  # nothing observed yet
        # April: monthly 60; daily shows its last day, 30 April: 100 -> (60 + 100) / 2.
        (utc(2026, 4, 1), 80.0, Status.amber, 1.0),
        # May: monthly 80; daily on 31 May: latest 40 (from 15 May) -> (80 + 40) / 2.
        (utc(2026, 5, 1), 60.0, Status.red, 1.0),
        # June so far: both latest values carry over.
        (utc(2026, 6, 1), 60.0, Status.red, 1.0),
    ]
    # The open period is exactly the current score.
    windows = scorecard_windows(card, NOW, PeriodSelector.current)
    current = evaluate_scorecard(card, NOW, PeriodSelector.current, fetch(card, windows, readings))
    assert entries[-1].score == current.score


def test_scorecard_history_by_week() -> None:
    card = scorecard(measure("m", aggregation=Aggregation.sum, cadence=Cadence.week))
    readings = {"m": [(utc(2026, 6, 1), 10.0), (utc(2026, 6, 9), 20.0)]}
    # Weeks starting Monday 1, 8 and 15 June.
    points = scorecard_history_points(
        card, utc(2026, 6, 1), utc(2026, 6, 17), NOW, cadence=Cadence.week
    )
    stats = fetch(card, scorecard_history_windows(card, points), readings)
    scores = [e.score for e in evaluate_scorecard_history(card, points, stats)]
    assert scores == [10.0, 20.0, 0.0]
