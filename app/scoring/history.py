"""History for charts: one entry per period, in three steps so the database is asked once.

    points = measure_history_points(scorecard, measure_id, start, end, now)
    stats = fetch(measure_history_windows(scorecard, measure_id, points))  # one query
    entries = evaluate_measure_history(scorecard, measure_id, points, stats)

and the same with `scorecard_history_points`, `scorecard_history_windows` and
`evaluate_scorecard_history`. Only periods that have started by `now` have an entry. A period that
has ended is evaluated closed (at its end, with every reading before its end); the period that
contains `now` is evaluated at `now`, exactly like the current score. History has no trends.
"""

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from app.scoring.evaluation import (
    EvaluationPoint,
    MeasureGraph,
    measure_score,
    score_at,
    thresholds_in_effect,
    windows_at,
)
from app.scoring.model import ScorecardDefinition
from app.scoring.periods import Cadence, Period, periods_between, require_aware
from app.scoring.results import MeasureHistoryEntry, ScorecardHistoryEntry, ScorecardScore
from app.scoring.rollup import roll_up
from app.scoring.rules import status_of
from app.scoring.windows import Window, WindowStats


def measure_history_points(
    scorecard: ScorecardDefinition, measure_id: UUID, start: datetime, end: datetime, now: datetime
) -> list[EvaluationPoint]:
    """One point per period of the measure's own cadence overlapping `[start, end)`."""
    measure = MeasureGraph(scorecard).measure(measure_id)
    return _history_points(scorecard, start, end, now, measure.cadence)


def measure_history_windows(
    scorecard: ScorecardDefinition, measure_id: UUID, points: list[EvaluationPoint]
) -> set[Window]:
    graph = MeasureGraph(scorecard)
    measure = graph.measure(measure_id)
    return {window for point in points for window in windows_at(graph, measure, point)}


def evaluate_measure_history(
    scorecard: ScorecardDefinition,
    measure_id: UUID,
    points: list[EvaluationPoint],
    stats: Mapping[Window, WindowStats],
) -> list[MeasureHistoryEntry]:
    graph = MeasureGraph(scorecard)
    measure = graph.measure(measure_id)
    entries: list[MeasureHistoryEntry] = []
    for point in points:
        value, progress, score = score_at(graph, measure, point, stats)
        in_effect = measure.in_effect(point.period)
        entries.append(
            MeasureHistoryEntry(
                point.period,
                value,
                progress,
                score,
                status_of(score, thresholds_in_effect(scorecard, in_effect)),
                in_effect.baseline,
                in_effect.target,
                in_effect.target_min,
                in_effect.target_max,
            )
        )
    return entries


def scorecard_history_points(
    scorecard: ScorecardDefinition,
    start: datetime,
    end: datetime,
    now: datetime,
    cadence: Cadence = Cadence.month,
) -> list[EvaluationPoint]:
    """One point per `cadence` period overlapping `[start, end)`.

    Each measure is evaluated in its own period that contains the point's last visible instant:
    at the end of a month, a daily measure shows its last day and a quarterly one its quarter so
    far (prorated to the month's end).
    """
    return _history_points(scorecard, start, end, now, cadence)


def scorecard_history_windows(
    scorecard: ScorecardDefinition, points: list[EvaluationPoint]
) -> set[Window]:
    graph = MeasureGraph(scorecard)
    return {
        window
        for point in points
        for measure in scorecard.measures
        for window in windows_at(
            graph, measure, graph.point_at(measure.cadence, point.instant, point.until)
        )
    }


def evaluate_scorecard_history(
    scorecard: ScorecardDefinition,
    points: list[EvaluationPoint],
    stats: Mapping[Window, WindowStats],
) -> list[ScorecardHistoryEntry]:
    return [
        ScorecardHistoryEntry(period, tree.score, tree.status, tree.coverage)
        for period, tree in evaluate_scorecard_history_trees(scorecard, points, stats)
    ]


def evaluate_scorecard_history_trees(
    scorecard: ScorecardDefinition,
    points: list[EvaluationPoint],
    stats: Mapping[Window, WindowStats],
) -> list[tuple[Period, ScorecardScore]]:
    """The whole score tree at each point, from the same statistics as
    `evaluate_scorecard_history` (the dashboard charts each perspective and measure)."""
    graph = MeasureGraph(scorecard)
    trees: list[tuple[Period, ScorecardScore]] = []
    for point in points:
        measures = {
            m.id: measure_score(
                graph,
                m,
                graph.point_at(m.cadence, point.instant, point.until),
                stats,
                with_trend=False,
            )
            for m in scorecard.measures
        }
        trees.append((point.period, roll_up(scorecard, point.instant, measures)))
    return trees


def _history_points(
    scorecard: ScorecardDefinition, start: datetime, end: datetime, now: datetime, cadence: Cadence
) -> list[EvaluationPoint]:
    require_aware(now, "now")
    return [
        EvaluationPoint.closed(period) if period.end <= now else EvaluationPoint.open(period, now)
        for period in periods_between(start, end, cadence, scorecard.timezone)
        if period.start <= now
    ]
