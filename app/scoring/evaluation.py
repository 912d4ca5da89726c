"""One measure evaluated at one point: the function behind every score the service shows."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from app.scoring.model import Aggregation, MeasureDefinition, ScorecardDefinition, Thresholds
from app.scoring.periods import MICROSECOND, Cadence, Period, period_containing, previous_period
from app.scoring.results import MeasureScore, Source
from app.scoring.rules import (
    aggregate,
    clamp_score,
    elapsed_fraction,
    progress,
    rounded,
    status_of,
    trend_of,
)
from app.scoring.windows import NO_READINGS, Window, WindowStats


@dataclass(frozen=True)
class EvaluationPoint:
    """Where and when a measure is evaluated.

    `instant` is the instant t of docs/scoring.md (it sets the prorate fraction); readings with
    `observed_at < until` are visible. An open period evaluated at `as_of` has
    `instant = as_of, until = as_of + 1µs` (so exactly the readings with `observed_at <= as_of`);
    a closed period has `instant = until = period.end`.
    """

    period: Period
    instant: datetime
    until: datetime

    @classmethod
    def open(cls, period: Period, as_of: datetime) -> "EvaluationPoint":
        instant = as_of.astimezone(UTC)
        return cls(period, instant, instant + MICROSECOND)

    @classmethod
    def closed(cls, period: Period) -> "EvaluationPoint":
        return cls(period, period.end, period.end)


class MeasureGraph:
    """A scorecard's measures with their formula dependencies resolved once."""

    def __init__(self, scorecard: ScorecardDefinition) -> None:
        self.scorecard = scorecard
        self.by_id = scorecard.measures_by_id
        self.by_key = scorecard.measures_by_key
        self._order = scorecard.formula_order
        self._closures: dict[str, list[MeasureDefinition]] = {}

    def measure(self, measure_id: UUID) -> MeasureDefinition:
        try:
            return self.by_id[measure_id]
        except KeyError:
            raise ValueError(
                f"measure {measure_id} is not in scorecard {self.scorecard.id}"
            ) from None

    def closure(self, measure: MeasureDefinition) -> list[MeasureDefinition]:
        """`measure` and every measure its value depends on, inputs first."""
        if measure.key not in self._closures:
            needed = {measure.key}
            stack = [measure]
            while stack:
                formula = stack.pop().formula
                for key in formula.keys if formula else ():
                    if key not in needed:
                        needed.add(key)
                        stack.append(self.by_key[key])
            self._closures[measure.key] = [self.by_key[k] for k in self._order if k in needed]
        return self._closures[measure.key]

    def point_at(self, cadence: Cadence, instant: datetime, until: datetime) -> EvaluationPoint:
        """The point of a measure with `cadence` when everything before `until` is visible."""
        return EvaluationPoint(
            period_containing(until - MICROSECOND, cadence, self.scorecard.timezone),
            instant,
            until,
        )

    def previous_point(self, measure: MeasureDefinition, point: EvaluationPoint) -> EvaluationPoint:
        period = previous_period(point.period, measure.cadence, self.scorecard.timezone)
        return EvaluationPoint.closed(period)


def window_of(measure: MeasureDefinition, point: EvaluationPoint) -> Window:
    return Window(measure.id, point.period.start, point.until)


def windows_at(
    graph: MeasureGraph, measure: MeasureDefinition, point: EvaluationPoint
) -> set[Window]:
    """The windows `measure` needs at `point`; a derived measure needs its raw inputs' windows
    over its own period (so a ratio is a ratio of sums, not a mean of ratios)."""
    return {window_of(m, point) for m in graph.closure(measure) if m.formula is None}


def value_at(
    graph: MeasureGraph,
    measure: MeasureDefinition,
    point: EvaluationPoint,
    stats: Mapping[Window, WindowStats],
) -> float | None:
    values: dict[str, float | None] = {}
    for m in graph.closure(measure):
        if m.linked:
            # The caller resolved the source's value into the measure's own window
            # (`app.scores.links`): the value itself, not readings to aggregate.
            linked = stats.get(window_of(m, point), NO_READINGS).latest_value
            values[m.key] = None if linked is None else rounded(linked)
        elif m.formula is None:
            values[m.key] = aggregate(m.aggregation, stats.get(window_of(m, point), NO_READINGS))
        else:
            derived = m.formula.evaluate(values)
            values[m.key] = None if derived is None else rounded(derived)
    return values[measure.key]


def score_at(
    graph: MeasureGraph,
    measure: MeasureDefinition,
    point: EvaluationPoint,
    stats: Mapping[Window, WindowStats],
) -> tuple[float | None, float | None, float | None]:
    """(value, progress, score) of `measure` at `point`."""
    value = value_at(graph, measure, point, stats)
    if value is None:
        return None, None, None
    in_effect = measure.in_effect(point.period)
    measure_progress = progress(in_effect, value, elapsed_fraction(point.period, point.instant))
    return value, measure_progress, clamp_score(measure_progress, graph.scorecard.score_cap)


def measure_score(
    graph: MeasureGraph,
    measure: MeasureDefinition,
    point: EvaluationPoint,
    stats: Mapping[Window, WindowStats],
    with_trend: bool,
    initiatives_at: datetime | None = None,
) -> MeasureScore:
    """`initiatives_at`: the instant at which initiatives count as active for
    `needs_initiative` (the request's as_of); None (history) never flags."""
    value, measure_progress, score = score_at(graph, measure, point, stats)
    trend = None
    if with_trend:
        _, _, previous_score = score_at(graph, measure, graph.previous_point(measure, point), stats)
        trend = trend_of(score, previous_score)
    # A derived or linked measure has no readings of its own: no freshness facts to report.
    own = (
        NO_READINGS
        if measure.formula or measure.linked
        else stats.get(window_of(measure, point), NO_READINGS)
    )
    last_observed_at = own.latest_observed_at
    # Only a `latest` value can come from before the period; other aggregations use the period.
    stale = (
        measure.aggregation is Aggregation.latest
        and last_observed_at is not None
        and last_observed_at < point.period.start
    )
    in_effect = measure.in_effect(point.period)
    status = status_of(score, thresholds_in_effect(graph.scorecard, in_effect))
    return MeasureScore(
        measure_id=measure.id,
        key=measure.key,
        name=measure.name,
        unit=measure.unit,
        weight=measure.weight,
        value=value,
        progress=measure_progress,
        score=score,
        status=status,
        period=point.period,
        baseline=in_effect.baseline,
        target=in_effect.target,
        target_min=in_effect.target_min,
        target_max=in_effect.target_max,
        trend=trend,
        stale=stale,
        last_observed_at=last_observed_at,
        readings_in_period=own.count,
        coverage=0.0 if score is None else 1.0,
        needs_initiative=initiatives_at is not None
        and graph.scorecard.needs_initiative(measure, status, initiatives_at),
        source=source_of(measure),
    )


def source_of(measure: MeasureDefinition) -> Source | None:
    if not measure.linked:
        return None
    return Source(measure.source_measure_id, measure.source_scorecard_id)


def thresholds_in_effect(
    scorecard: ScorecardDefinition, in_effect: MeasureDefinition
) -> Thresholds:
    """The status bands of a measure's definition in effect: its own, else its scorecard's."""
    return in_effect.thresholds or scorecard.thresholds


def trend_windows(
    graph: MeasureGraph, measure: MeasureDefinition, point: EvaluationPoint
) -> set[Window]:
    """The windows of `point` and of the previous period, for a score with its trend."""
    return windows_at(graph, measure, point) | windows_at(
        graph, measure, graph.previous_point(measure, point)
    )
