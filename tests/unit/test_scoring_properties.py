"""Properties that hold for any scorecard: scores stay in [0, score_cap], roll-ups are weighted
means, nothing observed after as_of matters, and only relative weights count."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scoring import (
    Aggregation,
    Cadence,
    Direction,
    ObjectiveDefinition,
    PeriodSelector,
    ScorecardDefinition,
    ScorecardScore,
    evaluate_scorecard,
    scorecard_windows,
)

from .test_scoring_builders import Readings, fetch, measure, objective, scorecard, utc

AS_OF = utc(2026, 6, 16, 9, 30)
weights = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0])
values = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)


@st.composite
def measure_fields(draw: st.DrawFn) -> dict[str, Any]:
    aggregation = draw(st.sampled_from(list(Aggregation)))
    direction = draw(st.sampled_from(list(Direction)))
    fields: dict[str, Any] = {
        "aggregation": aggregation,
        "direction": direction,
        "cadence": draw(st.sampled_from([Cadence.day, Cadence.week, Cadence.month])),
        "weight": draw(weights),
    }
    low = draw(st.floats(min_value=-1e3, max_value=1e3))
    high = low + draw(st.floats(min_value=0.5, max_value=1e3))
    if direction is Direction.range:
        tolerance = draw(st.floats(min_value=0.1, max_value=100))
        return fields | {
            "baseline": None,
            "target": None,
            "target_min": low,
            "target_max": high,
            "tolerance": tolerance,
        }
    baseline, target = (low, high) if direction is Direction.increase else (high, low)
    prorate = aggregation in (Aggregation.sum, Aggregation.count) and draw(st.booleans())
    return fields | {"baseline": baseline, "target": target, "prorate": prorate}


@dataclass(frozen=True)
class Case:
    card: ScorecardDefinition
    readings: Readings


@st.composite
def cases(draw: st.DrawFn) -> Case:
    growth = objective("growth", "financial", draw(weights))
    loyalty = objective("loyalty", "customer", draw(weights))
    objectives: list[ObjectiveDefinition] = [growth, loyalty]
    measures = []
    for index in range(5):
        home = draw(st.sampled_from([None, growth, loyalty]))
        perspective = draw(st.sampled_from(["financial", "customer"])) if home is None else None
        measures.append(
            measure(
                f"m{index}",
                objective_id=None if home is None else home.id,
                perspective=perspective or (home.perspective if home else "financial"),
                **draw(measure_fields()),
            )
        )
    measures.append(measure("ratio", formula="m0 / m1 * 100", weight=draw(weights)))
    card = scorecard(
        *measures,
        objectives=objectives,
        perspectives={"financial": draw(weights), "customer": draw(weights)},
        score_cap=draw(st.sampled_from([100, 150, 200])),
    )
    readings = {
        m.key: draw(st.lists(st.tuples(before(AS_OF), values), max_size=6)) for m in measures[:5]
    }
    return Case(card, readings)


def before(instant: datetime) -> st.SearchStrategy[datetime]:
    """An instant in the 70 days up to and including `instant` (microsecond steps)."""
    span = int(timedelta(days=70) / timedelta(microseconds=1))
    return st.integers(0, span).map(lambda us: instant - timedelta(microseconds=us))


def evaluate(
    case: Case, selector: PeriodSelector, readings: Readings | None = None
) -> ScorecardScore:
    windows = scorecard_windows(case.card, AS_OF, selector)
    stats = fetch(case.card, windows, case.readings if readings is None else readings)
    return evaluate_scorecard(case.card, AS_OF, selector, stats)


def children_scores(
    result: ScorecardScore,
) -> list[tuple[float | None, list[tuple[float, float | None]]]]:
    """(score, [(weight, score) of its children]) for every roll-up in the result."""
    nodes = [(result.score, [(p.weight, p.score) for p in result.perspectives])]
    for p in result.perspectives:
        children = [(o.weight, o.score) for o in p.objectives] + [
            (m.weight, m.score) for m in p.measures
        ]
        nodes.append((p.score, children))
        nodes.extend((o.score, [(m.weight, m.score) for m in o.measures]) for o in p.objectives)
    return nodes


@settings(max_examples=150, deadline=None)
@given(case=cases(), selector=st.sampled_from(list(PeriodSelector)))
def test_scores_stay_within_zero_and_the_cap(case: Case, selector: PeriodSelector) -> None:
    result = evaluate(case, selector)
    for parent, children in children_scores(result):
        for _, score in children:
            assert score is None or 0 <= score <= case.card.score_cap
        assert parent is None or 0 <= parent <= case.card.score_cap
    assert 0 <= result.coverage <= 1


@settings(max_examples=150, deadline=None)
@given(case=cases())
def test_a_roll_up_lies_between_its_scored_children(case: Case) -> None:
    for parent, children in children_scores(evaluate(case, PeriodSelector.current)):
        scored = [score for weight, score in children if score is not None and weight > 0]
        if not scored:
            assert parent is None
        else:
            assert parent is not None
            assert min(scored) - 1e-9 <= parent <= max(scored) + 1e-9


@settings(max_examples=100, deadline=None)
@given(
    case=cases(),
    selector=st.sampled_from(list(PeriodSelector)),
    late=st.lists(
        st.tuples(st.sampled_from([f"m{i}" for i in range(5)]), st.integers(1, 10**12), values),
        min_size=1,
        max_size=5,
    ),
)
def test_readings_observed_after_as_of_change_nothing(
    case: Case, selector: PeriodSelector, late: list[tuple[str, int, float]]
) -> None:
    readings = {key: list(rows) for key, rows in case.readings.items()}
    for key, microseconds_after, value in late:
        readings[key].append((AS_OF + timedelta(microseconds=microseconds_after), value))
    assert evaluate(case, selector, readings) == evaluate(case, selector)


def scale(card: ScorecardDefinition, siblings: str, factor: float) -> ScorecardDefinition:
    """`card` with the weights of every group of siblings multiplied by `factor`."""

    def times(item: Any) -> Any:
        return replace(item, weight=item.weight * factor)

    if siblings == "perspectives":
        return replace(card, perspectives=[times(p) for p in card.perspectives])
    if siblings == "measures of objectives":
        return replace(card, measures=[times(m) if m.objective_id else m for m in card.measures])
    # The children of a perspective: its objectives and its measures without an objective.
    return replace(
        card,
        objectives=[times(o) for o in card.objectives],
        measures=[m if m.objective_id else times(m) for m in card.measures],
    )


@settings(max_examples=100, deadline=None)
@given(
    case=cases(),
    siblings=st.sampled_from(
        ["perspectives", "measures of objectives", "children of perspectives"]
    ),
    factor=st.floats(min_value=0.01, max_value=100),
)
def test_scaling_the_weights_of_siblings_changes_nothing(
    case: Case, siblings: str, factor: float
) -> None:
    original = evaluate(case, PeriodSelector.current)
    scaled = evaluate(
        Case(scale(case.card, siblings, factor), case.readings), PeriodSelector.current
    )
    for (score, children), (scaled_score, scaled_children) in zip(
        children_scores(original), children_scores(scaled), strict=True
    ):
        assert scaled_score == pytest.approx(score)
        assert [s for _, s in scaled_children] == pytest.approx([s for _, s in children])
    assert scaled.coverage == pytest.approx(original.coverage)
