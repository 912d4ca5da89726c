"""Commentary attached to evaluated measures (pure): every node and history entry of its
period gets its note; `commentary_missing` follows the statuses the scorecard lists."""

from dataclasses import replace

from app.scoring import (
    Commentary,
    Period,
    Status,
    commentary_keys,
    history_with_commentary,
    with_commentary,
)
from app.scoring.history import (
    evaluate_measure_history,
    measure_history_points,
    measure_history_windows,
)

from .test_scoring_builders import fetch, id_of, measure, objective, scorecard, utc
from .test_scoring_rollup import evaluate, latest

JUNE = Period(utc(2026, 6, 1), utc(2026, 7, 1))
MAY = Period(utc(2026, 5, 1), utc(2026, 6, 1))
NOTE = Commentary("Cohort postponed.", "Rebook in July.")


def _card():  # type: ignore[no-untyped-def]
    growth = objective("growth")
    return scorecard(
        measure("red", objective_id=growth.id),
        measure("amber", objective_id=growth.id),
        measure("green"),
        measure("empty"),
        objectives=[growth],
    )


def test_nodes_carry_their_period_s_note_and_what_is_missing() -> None:
    card = _card()
    # Baseline 0, target 100: score = value; 10 red, 75 amber, 95 green, no reading no_data.
    score = evaluate(card, latest({"red": 10, "amber": 75, "green": 95}))
    keys = commentary_keys(score)
    assert sorted(keys, key=str) == sorted(
        [(id_of(k), JUNE) for k in ("red", "amber", "green", "empty")], key=str
    )
    notes = {(id_of("red"), JUNE): NOTE, (id_of("amber"), MAY): NOTE}
    annotated = with_commentary(score, notes, frozenset({Status.red, Status.amber}))

    nodes = {
        m.key: m
        for p in annotated.perspectives
        for m in [*p.measures, *(m for o in p.objectives for m in o.measures)]
    }
    assert {k: (n.commentary, n.commentary_missing) for k, n in nodes.items()} == {
        "red": (NOTE, False),
        "amber": (None, True),  # May's note is not June's
        "green": (None, False),
        "empty": (None, False),
    }
    # Nothing else moves.
    assert replace(annotated, perspectives=[]) == replace(score, perspectives=[])
    assert [p.score for p in annotated.perspectives] == [p.score for p in score.perspectives]


def test_nothing_required_nothing_missing() -> None:
    card = _card()
    score = evaluate(card, latest({"red": 10}))
    annotated = with_commentary(score, {}, frozenset())
    assert not any(
        m.commentary_missing or m.commentary
        for p in annotated.perspectives
        for m in [*p.measures, *(m for o in p.objectives for m in o.measures)]
    )


def test_history_entries_carry_their_period_s_note() -> None:
    card = _card()
    measure_id = id_of("red")
    points = measure_history_points(
        card, measure_id, utc(2026, 4, 1), utc(2026, 7, 1), utc(2026, 7, 1)
    )
    stats = fetch(card, measure_history_windows(card, measure_id, points), latest({"red": 10}))
    entries = evaluate_measure_history(card, measure_id, points, stats)
    annotated = history_with_commentary(measure_id, entries, {(measure_id, MAY): NOTE})
    assert [(e.period.start.month, e.commentary) for e in annotated] == [
        (4, None),
        (5, NOTE),
        (6, None),
    ]
