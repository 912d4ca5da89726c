"""The per-measure rules of docs/scoring.md, steps 2 to 6, as plain functions on numbers."""

from datetime import datetime

from app.scoring.model import Aggregation, Direction, MeasureDefinition, Status, Thresholds
from app.scoring.periods import Period
from app.scoring.results import Trend
from app.scoring.windows import WindowStats

FLAT_TREND = 0.01  # |delta| below this is "flat"
DECIMALS = (
    6  # what the engine computes, it answers to 6 decimal places: 93.0, not 92.99999999999997
)


def rounded(value: float) -> float:
    """`value` to DECIMALS places; the status is judged on this number, the one shown."""
    return round(value, DECIMALS) + 0.0  # + 0.0: no "-0.0"


def aggregate(aggregation: Aggregation, stats: WindowStats) -> float | None:
    """A measure's value from its window; sum, count and distinct_subjects of no readings are
    0, the others None."""
    match aggregation:
        case Aggregation.latest:
            return stats.latest_value
        case Aggregation.sum:
            return 0.0 if stats.total is None else rounded(stats.total)
        case Aggregation.count:
            return float(stats.count)
        case Aggregation.distinct_subjects:
            return float(stats.subjects)
        case Aggregation.mean:
            if stats.total is None or stats.count == 0:
                return None
            return rounded(stats.total / stats.count)
        case Aggregation.min:
            return stats.minimum
        case Aggregation.max:
            return stats.maximum


def elapsed_fraction(period: Period, instant: datetime) -> float:
    return (instant - period.start) / (period.end - period.start)


def progress(measure: MeasureDefinition, value: float, elapsed: float) -> float:
    """Uncapped progress in %, with `elapsed` the fraction of the period gone by (for prorate)."""
    if measure.direction is Direction.range:
        return _range_progress(measure, value)
    assert measure.baseline is not None and measure.target is not None  # checked by the model
    baseline, target = measure.baseline, measure.target
    if measure.prorate:
        baseline, target = baseline * elapsed, target * elapsed
    span = target - baseline
    if span == 0:
        # Prorated at the very first instant of a period, baseline and target are both 0: the
        # measure is on track (100) when its value is on the target's side of 0 or at it.
        on_target_side = (
            value >= target if measure.direction is Direction.increase else value <= target
        )
        return 100.0 if on_target_side else 0.0
    return rounded((value - baseline) / span * 100)


def _range_progress(measure: MeasureDefinition, value: float) -> float:
    assert measure.target_min is not None and measure.target_max is not None
    assert measure.tolerance is not None
    if measure.target_min <= value <= measure.target_max:
        return 100.0
    distance = (
        measure.target_min - value if value < measure.target_min else value - measure.target_max
    )
    return rounded(100 * (1 - distance / measure.tolerance))


def clamp_score(progress: float, score_cap: float) -> float:
    return min(max(progress, 0.0), score_cap)


def status_of(score: float | None, thresholds: Thresholds) -> Status:
    if score is None:
        return Status.no_data
    if score >= thresholds.green:
        return Status.green
    if score >= thresholds.amber:
        return Status.amber
    return Status.red


def trend_of(score: float | None, previous_score: float | None) -> Trend | None:
    if score is None or previous_score is None:
        return None
    delta = rounded(score - previous_score)
    direction = "flat" if abs(delta) < FLAT_TREND else "up" if delta > 0 else "down"
    return Trend(previous_score=previous_score, delta=delta, direction=direction)
