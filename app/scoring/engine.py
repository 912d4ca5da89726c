"""Scores of a scorecard or one measure at `as_of`, for the current or the previous period.

Two phases so the database answers everything in one query: `*_windows` lists the windows, the
caller fetches a WindowStats for each (a window it leaves out counts as having no readings), and
`evaluate_*` computes the result. Both phases must get the same arguments.
"""

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from app.scoring.evaluation import (
    EvaluationPoint,
    MeasureGraph,
    measure_score,
    trend_windows,
    windows_at,
)
from app.scoring.model import MeasureDefinition, ScorecardDefinition
from app.scoring.periods import period_containing, previous_period, require_aware
from app.scoring.results import MeasureScore, ScorecardScore
from app.scoring.rollup import roll_up
from app.scoring.windows import Window, WindowStats


class PeriodSelector(StrEnum):
    current = "current"  # the period containing as_of, with readings observed up to as_of
    previous = "previous"  # the period before it, closed: every reading before its end


def scorecard_windows(
    scorecard: ScorecardDefinition, as_of: datetime, selector: PeriodSelector
) -> set[Window]:
    graph = MeasureGraph(scorecard)
    windows: set[Window] = set()
    for measure in scorecard.measures:
        windows |= trend_windows(graph, measure, _selected_point(graph, measure, as_of, selector))
    return windows


def evaluate_scorecard(
    scorecard: ScorecardDefinition,
    as_of: datetime,
    selector: PeriodSelector,
    stats: Mapping[Window, WindowStats],
) -> ScorecardScore:
    graph = MeasureGraph(scorecard)
    measures = {
        m.id: measure_score(
            graph,
            m,
            _selected_point(graph, m, as_of, selector),
            stats,
            with_trend=True,
            initiatives_at=as_of,
        )
        for m in scorecard.measures
    }
    return roll_up(scorecard, as_of, measures)


def measure_windows(
    scorecard: ScorecardDefinition,
    measure_id: UUID,
    as_of: datetime,
    selector: PeriodSelector,
    *,
    with_trend: bool = True,
) -> set[Window]:
    graph = MeasureGraph(scorecard)
    measure = graph.measure(measure_id)
    point = _selected_point(graph, measure, as_of, selector)
    if with_trend:
        return trend_windows(graph, measure, point)
    return windows_at(graph, measure, point)


def evaluate_measure(
    scorecard: ScorecardDefinition,
    measure_id: UUID,
    as_of: datetime,
    selector: PeriodSelector,
    stats: Mapping[Window, WindowStats],
    *,
    with_trend: bool = True,
) -> MeasureScore:
    """The measure's entry of `evaluate_scorecard` with the same arguments, computed alone.
    Without the trend (`trend` is None), it needs only the current period's windows (pass
    `with_trend` alike to `measure_windows`): enough for a status."""
    graph = MeasureGraph(scorecard)
    measure = graph.measure(measure_id)
    point = _selected_point(graph, measure, as_of, selector)
    return measure_score(graph, measure, point, stats, with_trend=with_trend, initiatives_at=as_of)


def _selected_point(
    graph: MeasureGraph, measure: MeasureDefinition, as_of: datetime, selector: PeriodSelector
) -> EvaluationPoint:
    require_aware(as_of, "as_of")
    tz = graph.scorecard.timezone
    current = period_containing(as_of, measure.cadence, tz)
    if selector is PeriodSelector.current:
        return EvaluationPoint.open(current, as_of)
    return EvaluationPoint.closed(previous_period(current, measure.cadence, tz))
