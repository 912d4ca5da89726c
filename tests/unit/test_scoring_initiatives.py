"""The initiative rules of the engine, by hand: which initiatives are active on a day, which
red measures need one, and what objective nodes list."""

from datetime import date

import pytest

from app.scoring import InitiativeDefinition, PeriodSelector, evaluate_scorecard, scorecard_windows
from tests.unit.test_scoring_builders import fetch, id_of, measure, objective, scorecard, utc


def initiative(name: str, status: str = "on_track", **fields: object) -> InitiativeDefinition:
    values: dict[str, object] = {
        "id": id_of(name),
        "name": name,
        "status": status,
        "progress": 40.0,
        "start_date": date(2026, 3, 10),
        "end_date": date(2026, 3, 20),
    }
    return InitiativeDefinition(**(values | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "day", "active"),
    [
        ("planned", date(2026, 3, 9), False),
        ("planned", date(2026, 3, 10), True),  # both ends included
        ("on_track", date(2026, 3, 15), True),
        ("at_risk", date(2026, 3, 20), True),
        ("off_track", date(2026, 3, 21), False),
        ("done", date(2026, 3, 15), False),
        ("cancelled", date(2026, 3, 15), False),
    ],
)
def test_active_on(status, day, active):
    assert initiative("x", status).active_on(day) is active


def test_start_after_end_is_refused():
    with pytest.raises(ValueError, match="start_date after end_date"):
        initiative("x", start_date=date(2026, 3, 21))


def _flags_and_nodes(as_of, timezone="UTC", initiatives=()):
    goal = objective("goal")
    card = scorecard(
        measure("under_goal", objective_id=goal.id),  # value 10 → red
        measure("loose"),  # value 10 → red
        measure("green"),  # value 95 → green
        objectives=[goal],
        timezone=timezone,
        initiatives=initiatives,
    )
    readings = {
        "under_goal": [(utc(2026, 3, 1), 10.0)],
        "loose": [(utc(2026, 3, 1), 10.0)],
        "green": [(utc(2026, 3, 1), 95.0)],
    }
    windows = scorecard_windows(card, as_of, PeriodSelector.current)
    score = evaluate_scorecard(card, as_of, PeriodSelector.current, fetch(card, windows, readings))
    [financial, _] = score.perspectives
    [goal_node] = financial.objectives
    nodes = [*goal_node.measures, *financial.measures]
    return {m.key: m.needs_initiative for m in nodes}, goal_node.initiatives


def test_red_measures_need_an_initiative_until_an_active_one_covers_them():
    flags, listed = _flags_and_nodes(utc(2026, 3, 15))
    assert flags == {"under_goal": True, "loose": True, "green": False}
    assert listed == []

    on_goal = initiative("on goal", objective_ids=[id_of("goal")])
    on_loose = initiative("on loose", "planned", measure_ids=[id_of("loose")])
    flags, listed = _flags_and_nodes(utc(2026, 3, 15), initiatives=[on_goal, on_loose])
    assert flags == {"under_goal": False, "loose": False, "green": False}
    assert [(i.id, i.name, i.status, i.progress) for i in listed] == [
        (id_of("on goal"), "on goal", "on_track", 40.0)
    ]
    # After their end date (UTC): both red measures need one again; the objective still lists it.
    flags, listed = _flags_and_nodes(utc(2026, 3, 21), initiatives=[on_goal, on_loose])
    assert flags == {"under_goal": True, "loose": True, "green": False}
    assert [i.name for i in listed] == ["on goal"]


def test_the_day_is_taken_in_the_scorecard_time_zone():
    on_loose = initiative("on loose", measure_ids=[id_of("loose")])
    # 2026-03-20T23:30Z: still the 20th in UTC, already the 21st in Berlin (UTC+1).
    late_evening = utc(2026, 3, 20, 23, 30)
    assert _flags_and_nodes(late_evening, "UTC", [on_loose])[0]["loose"] is False
    assert _flags_and_nodes(late_evening, "Europe/Berlin", [on_loose])[0]["loose"] is True
    # 2026-03-09T23:30Z: the 9th in UTC, the 10th in Berlin (the first day).
    early = utc(2026, 3, 9, 23, 30)
    assert _flags_and_nodes(early, "UTC", [on_loose])[0]["loose"] is True
    assert _flags_and_nodes(early, "Europe/Berlin", [on_loose])[0]["loose"] is False
