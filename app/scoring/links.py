"""Linked measures: a measure whose value is another measure's value or another scorecard's
score (docs/scoring.md, linked measures). Pure, like the rest of the engine.

A linked measure's value at a point is asked for as its own window (`window_of`), as for a
measure with readings; whoever fetches statistics answers that window with the source's value
in `latest_value` (`app.scores.links`), and `value_at` takes it as it is. To answer it:

    windows = source_windows(source, linked, window)    # what the source needs
    stats = fetch(windows)                              # (its own links answered first)
    value = source_value(source, linked, window, stats)

A measure source is evaluated over the linked measure's window — its period start and its
visibility bound — whatever the source's own cadence; a scorecard source is scored with every
reading before the window's end visible, each of its measures in its own period, as a history
point is."""

from collections.abc import Mapping

from app.scoring.evaluation import (
    EvaluationPoint,
    MeasureGraph,
    measure_score,
    value_at,
    windows_at,
)
from app.scoring.model import MeasureDefinition, ScorecardDefinition
from app.scoring.periods import Period
from app.scoring.rollup import roll_up
from app.scoring.windows import Window, WindowStats


def _point(window: Window) -> EvaluationPoint:
    return EvaluationPoint(Period(window.start, window.until), window.until, window.until)


def _scorecard_points(
    graph: MeasureGraph, window: Window
) -> list[tuple[MeasureDefinition, EvaluationPoint]]:
    return [
        (m, graph.point_at(m.cadence, window.until, window.until)) for m in graph.scorecard.measures
    ]


def source_windows(
    source: ScorecardDefinition, linked: MeasureDefinition, window: Window
) -> set[Window]:
    """The windows `source` (the definition holding the linked measure's source) needs to give
    the linked measure's value for `window`."""
    graph = MeasureGraph(source)
    if linked.source_measure_id is not None:
        return windows_at(graph, graph.measure(linked.source_measure_id), _point(window))
    return {w for m, point in _scorecard_points(graph, window) for w in windows_at(graph, m, point)}


def source_value(
    source: ScorecardDefinition,
    linked: MeasureDefinition,
    window: Window,
    stats: Mapping[Window, WindowStats],
) -> float | None:
    """The linked measure's value for `window`: its source measure's value, or its source
    scorecard's score."""
    graph = MeasureGraph(source)
    if linked.source_measure_id is not None:
        measure = graph.measure(linked.source_measure_id)
        return value_at(graph, measure, _point(window), stats)
    measures = {
        m.id: measure_score(graph, m, point, stats, with_trend=False)
        for m, point in _scorecard_points(graph, window)
    }
    return roll_up(source, window.until, measures).score
