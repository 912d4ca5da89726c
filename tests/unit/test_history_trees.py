"""The dashboard's history trees: the history endpoint's numbers, with the tree kept."""

from app.scoring import (
    Status,
    evaluate_scorecard_history,
    evaluate_scorecard_history_trees,
    scorecard_history_points,
    scorecard_history_windows,
)

from .test_scoring_builders import fetch, measure, scorecard, utc

NOW = utc(2026, 6, 16)


def test_each_month_has_the_whole_tree_and_the_history_entry_is_its_root() -> None:
    card = scorecard(
        measure("cost", perspective="financial"),
        measure("nps", perspective="customer", weight=3.0),
    )
    readings = {
        "cost": [(utc(2026, 4, 10), 40.0), (utc(2026, 5, 5), 80.0)],
        "nps": [(utc(2026, 5, 20), 100.0), (utc(2026, 6, 2), 60.0)],
    }
    points = scorecard_history_points(card, utc(2026, 4, 1), utc(2026, 7, 1), NOW)
    stats = fetch(card, scorecard_history_windows(card, points), readings)
    trees = evaluate_scorecard_history_trees(card, points, stats)

    # Financial: April 40, then May's 80 (the latest reading, carried into June). Customer:
    # nothing in April, May 100, June 60. The scorecard: the mean of perspectives with a score.
    G, A, R, NO = Status.green, Status.amber, Status.red, Status.no_data
    by_month = [
        (period.start, [(p.score, p.status) for p in tree.perspectives], tree.score, tree.status)
        for period, tree in trees
    ]
    assert by_month == [
        (utc(2026, 4, 1), [(40.0, R), (None, NO)], 40.0, R),
        (utc(2026, 5, 1), [(80.0, A), (100.0, G)], 90.0, G),
        (utc(2026, 6, 1), [(80.0, A), (60.0, R)], 70.0, A),
    ]
    assert [m.key for m in trees[1][1].perspectives[1].measures] == ["nps"]
    entries = evaluate_scorecard_history(card, points, stats)
    assert [(e.period, e.score, e.status, e.coverage) for e in entries] == [
        (period, tree.score, tree.status, tree.coverage) for period, tree in trees
    ]
