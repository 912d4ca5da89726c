"""Roll-up measure -> objective -> perspective -> scorecard, and derived measures."""

from typing import Any

import pytest

from app.scoring import (
    Aggregation,
    Cadence,
    PeriodSelector,
    ScorecardDefinition,
    ScorecardScore,
    Status,
    Thresholds,
    evaluate_scorecard,
    measure_windows,
    scorecard_windows,
)

from .test_scoring_builders import Readings, fetch, id_of, measure, objective, scorecard, utc

AS_OF = utc(2026, 6, 16)
JUNE = utc(2026, 6, 2)


def evaluate(card: ScorecardDefinition, readings: Readings) -> ScorecardScore:
    windows = scorecard_windows(card, AS_OF, PeriodSelector.current)
    stats = fetch(card, windows, readings)
    return evaluate_scorecard(card, AS_OF, PeriodSelector.current, stats)


def latest(values: dict[str, float]) -> Readings:
    return {key: [(JUNE, value)] for key, value in values.items()}


def test_weighted_means_renormalise_over_children_with_data() -> None:
    growth = objective("growth", weight=3)
    card = scorecard(
        measure("a", objective_id=growth.id, weight=1),
        measure("b", objective_id=growth.id, weight=3),
        measure("f", objective_id=growth.id, weight=4),  # no data
        measure("c", weight=1),  # financial, no objective
        measure("d", perspective="customer", weight=1),  # no data
        measure("e", perspective="customer", weight=0),  # shown, never scored
        objectives=[growth],
        perspectives={"financial": 2, "customer": 1},
    )
    result = evaluate(card, latest({"a": 80, "b": 40, "c": 100, "e": 100}))

    financial, customer = result.perspectives
    (growth_score,) = financial.objectives
    # growth: (1*80 + 3*40) / (1 + 3) = 50; coverage (1 + 3) / (1 + 3 + 4) = 0.5.
    assert (growth_score.score, growth_score.coverage) == (50.0, 0.5)
    assert [m.key for m in growth_score.measures] == ["a", "b", "f"]
    # financial: (3*50 + 1*100) / (3 + 1) = 62.5; both children have data.
    assert (financial.score, financial.coverage, financial.status) == (62.5, 1.0, Status.red)
    assert [m.key for m in financial.measures] == ["c"]
    # customer: d has no data and e weighs 0: nothing scored; coverage 0 / (1 + 0).
    assert (customer.score, customer.coverage, customer.status) == (None, 0.0, Status.no_data)
    assert [(m.key, m.score) for m in customer.measures] == [("d", None), ("e", 100.0)]
    # scorecard: only financial (weight 2 of 3) has data: 62.5, coverage 2/3.
    assert result.score == 62.5
    assert result.coverage == pytest.approx(2 / 3)
    assert (result.scorecard_id, result.as_of) == (card.id, AS_OF)


def test_all_weights_zero_is_no_score_and_no_coverage() -> None:
    card = scorecard(measure("a", weight=0), perspectives={"financial": 1})
    result = evaluate(card, latest({"a": 80}))
    assert (result.perspectives[0].score, result.perspectives[0].coverage) == (None, 0.0)
    assert (result.score, result.status, result.coverage) == (None, Status.no_data, 0.0)


def test_no_data_at_all() -> None:
    result = evaluate(scorecard(measure("a"), measure("b", perspective="customer")), {})
    assert (result.score, result.status, result.coverage) == (None, Status.no_data, 0.0)


def test_roll_up_status_uses_scorecard_thresholds() -> None:
    # 75 is green by the measure's own thresholds (green 70) but amber for the roll-ups, which
    # use the scorecard's (green 90, amber 70).
    card = scorecard(
        measure("a", thresholds=Thresholds(green=70, amber=50)), perspectives={"financial": 1}
    )
    result = evaluate(card, latest({"a": 75}))
    assert result.perspectives[0].measures[0].status == Status.green
    assert (result.perspectives[0].status, result.status) == (Status.amber, Status.amber)


def test_display_order_is_kept() -> None:
    card = scorecard(
        measure("z", perspective="customer"),
        measure("b"),
        measure("a"),
        perspectives={"customer": 1, "financial": 1},
    )
    result = evaluate(card, {})
    assert [p.key for p in result.perspectives] == ["customer", "financial"]
    assert [m.key for m in result.perspectives[1].measures] == ["b", "a"]


# Derived measures: completion rate = completed / enrolled * 100 over June.
SUM: dict[str, Any] = {"aggregation": Aggregation.sum}
ENROLMENT = {
    "completed": [(utc(2026, 6, 2), 3.0), (utc(2026, 6, 10), 1.0), (utc(2026, 5, 5), 50.0)],
    "enrolled": [(utc(2026, 6, 2), 4.0), (utc(2026, 6, 10), 12.0), (utc(2026, 5, 5), 100.0)],
}


def rate_card(*extra: Any, completed: dict[str, Any] = SUM) -> ScorecardDefinition:
    return scorecard(
        measure("rate", formula="completed / enrolled * 100"),
        measure("completed", **completed),
        measure("enrolled", **SUM),
        *extra,
    )


def derived(card: ScorecardDefinition, readings: Readings, key: str = "rate") -> Any:
    result = evaluate(card, readings)
    return next(m for p in result.perspectives for m in p.measures if m.key == key)


def test_derived_is_a_ratio_of_sums() -> None:
    # (3 + 1) / (4 + 12) * 100 = 25; a mean of ratios would give (75 + 8.33) / 2.
    rate = derived(rate_card(), ENROLMENT)
    assert (rate.value, rate.score, rate.status) == (25.0, 25.0, Status.red)
    # No readings of its own. May: 50 / 100 * 100 = 50, so the trend is down 25.
    assert (rate.last_observed_at, rate.readings_in_period, rate.stale) == (None, 0, False)
    assert rate.trend is not None
    assert (rate.trend.previous_score, rate.trend.delta, rate.trend.direction) == (50, -25, "down")


def test_derived_inputs_use_the_derived_period() -> None:
    # `completed` is daily, but in the monthly rate it is summed over June: still 25.
    card = rate_card(completed=SUM | {"cadence": Cadence.day})
    assert derived(card, ENROLMENT).value == 25.0


def test_derived_windows_are_its_inputs_windows() -> None:
    windows = measure_windows(rate_card(), id_of("rate"), AS_OF, PeriodSelector.current)
    # June so far and May, for each input; the derived measure has no window of its own.
    assert {(w.measure_id, w.start) for w in windows} == {
        (id_of(key), start)
        for key in ("completed", "enrolled")
        for start in (utc(2026, 6, 1), utc(2026, 5, 1))
    }


def test_derived_division_by_zero_is_no_data() -> None:
    readings = {"completed": [(JUNE, 3.0)]}  # enrolled sums to 0
    rate = derived(rate_card(), readings)
    assert (rate.value, rate.score, rate.status, rate.coverage) == (None, None, Status.no_data, 0.0)


def test_derived_with_a_null_input_is_no_data() -> None:
    card = rate_card(completed={"aggregation": Aggregation.mean})
    rate = derived(card, {"enrolled": [(JUNE, 4.0)]})  # mean of no readings is null
    assert (rate.value, rate.status) == (None, Status.no_data)


def test_nested_derived_measures() -> None:
    card = rate_card(measure("half", formula="rate / 2"))
    assert derived(card, ENROLMENT, "half").value == 12.5  # 25 / 2
    windows = measure_windows(card, id_of("half"), AS_OF, PeriodSelector.current)
    assert {w.measure_id for w in windows} == {id_of("completed"), id_of("enrolled")}


@pytest.mark.parametrize(
    ("measures", "message"),
    [
        ([measure("rate", formula="done / 2")], "unknown measure key 'done'"),
        ([measure("a", formula="b"), measure("b", formula="a")], "cycle: a -> b -> a"),
        ([measure("a", formula="a * 2")], "cycle: a -> a"),
    ],
)
def test_scorecard_rejects_bad_formulas(measures: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scorecard(*measures)
