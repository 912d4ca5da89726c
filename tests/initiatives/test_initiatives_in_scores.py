"""Initiatives in score trees and the summary, with hand-checked flags: a red measure asks for
an initiative unless one active at as_of (not done or cancelled, as_of's date in the
scorecard's time zone within [start_date, end_date]) is linked to it or to its objective."""

from __future__ import annotations

from typing import Any

from tests.factories import create_measure, create_scorecard
from tests.initiatives.test_initiatives_api import create_initiative, create_objective


async def reading(client, measure_id: str, value: float, at: str) -> None:
    response = await client.post(
        f"/v1/measures/{measure_id}/readings", json={"value": value, "observed_at": at}
    )
    assert response.status_code == 201, response.text


async def tree(client, scorecard_id: str, as_of: str) -> dict[str, Any]:
    response = await client.get(f"/v1/scorecards/{scorecard_id}/score", params={"as_of": as_of})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def measure_nodes(score: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes = {}
    for perspective in score["perspectives"]:
        for objective in perspective["objectives"]:
            nodes.update({m["key"]: m for m in objective["measures"]})
        nodes.update({m["key"]: m for m in perspective["measures"]})
    return nodes


def objective_node(score: dict[str, Any], objective_id: str) -> dict[str, Any]:
    return next(
        o
        for p in score["perspectives"]
        for o in p["objectives"]
        if o["objective_id"] == objective_id
    )


async def test_flags_before_inside_and_after_the_initiative_dates(client):
    # Auckland is UTC+13 in March: 2026-03-20T12:00Z is already the 21st there.
    scorecard = await create_scorecard(client, timezone="Pacific/Auckland")
    sid = scorecard["id"]
    objective = await create_objective(client, sid)
    # baseline 0, target 100: value 10 → score 10 → red; value 95 → green.
    covered = await create_measure(client, sid, key="covered", objective_id=objective["id"])
    via_objective = await create_measure(
        client, sid, key="via_objective", objective_id=objective["id"]
    )
    loose = await create_measure(client, sid, key="loose")
    fine = await create_measure(client, sid, key="fine")
    for measure in (covered, via_objective, loose):
        await reading(client, measure["id"], 10, "2026-03-01T00:00:00Z")
    await reading(client, fine["id"], 95, "2026-03-01T00:00:00Z")

    # Before any initiative: every red measure asks for one, the green one does not.
    flags = {
        k: m["needs_initiative"]
        for k, m in measure_nodes(await tree(client, sid, "2026-03-15T00:00:00Z")).items()
    }
    assert flags == {"covered": True, "via_objective": True, "loose": True, "fine": False}

    initiative = await create_initiative(
        client,
        sid,
        name="Coaching",
        start_date="2026-03-10",
        end_date="2026-03-20",
        status="on_track",
        progress=25,
        measure_ids=[covered["id"]],
    )
    on_objective = await create_initiative(
        client,
        sid,
        name="Mentoring",
        start_date="2026-03-10",
        end_date="2026-03-20",
        objective_ids=[objective["id"]],
    )

    async def flags_at(as_of: str) -> dict[str, bool]:
        nodes = measure_nodes(await tree(client, sid, as_of))
        return {key: node["needs_initiative"] for key, node in nodes.items()}

    # Before the start (the 9th in Auckland).
    assert await flags_at("2026-03-09T10:00:00Z") == {
        "covered": True,
        "via_objective": True,
        "loose": True,
        "fine": False,
    }
    # 2026-03-09T11:00Z is 00:00 on the 10th in Auckland: inside.
    inside = {"covered": False, "via_objective": False, "loose": True, "fine": False}
    assert await flags_at("2026-03-09T11:00:00Z") == inside
    assert await flags_at("2026-03-15T12:00:00Z") == inside
    # The 20th, local evening: still inside; the 21st local (still the 20th in UTC): after.
    assert await flags_at("2026-03-20T10:59:59Z") == inside
    assert await flags_at("2026-03-20T12:00:00Z") == {
        "covered": True,
        "via_objective": True,
        "loose": True,
        "fine": False,
    }

    # The objective node lists the initiatives linked to it (not those linked to its measures).
    node = objective_node(await tree(client, sid, "2026-03-15T12:00:00Z"), objective["id"])
    assert node["initiatives"] == [
        {"id": on_objective["id"], "name": "Mentoring", "status": "planned", "progress": 0.0}
    ]

    # Done or cancelled initiatives are not active, whatever their dates.
    await client.patch(f"/v1/initiatives/{on_objective['id']}", json={"status": "cancelled"})
    await client.patch(f"/v1/initiatives/{initiative['id']}", json={"status": "done"})
    assert await flags_at("2026-03-15T12:00:00Z") == {
        "covered": True,
        "via_objective": True,
        "loose": True,
        "fine": False,
    }
    node = objective_node(await tree(client, sid, "2026-03-15T12:00:00Z"), objective["id"])
    assert node["initiatives"] == [
        {"id": on_objective["id"], "name": "Mentoring", "status": "cancelled", "progress": 0.0}
    ]


async def test_an_initiative_change_shows_at_once_in_the_cached_tree(client):
    """The score of "now" is cached while nothing it depends on changes: an initiative is
    part of that."""
    scorecard = await create_scorecard(client)
    sid = scorecard["id"]
    objective = await create_objective(client, sid)
    measure = await create_measure(client, sid, key="red", objective_id=objective["id"])
    await reading(client, measure["id"], 10, "2026-01-01T00:00:00Z")

    async def now_tree() -> dict[str, Any]:
        response = await client.get(f"/v1/scorecards/{sid}/score")
        assert response.status_code == 200
        return response.json()  # type: ignore[no-any-return]

    assert measure_nodes(await now_tree())["red"]["needs_initiative"] is True
    initiative = await create_initiative(
        client, sid, start_date="2000-01-01", end_date="2199-12-31", measure_ids=[measure["id"]]
    )
    assert measure_nodes(await now_tree())["red"]["needs_initiative"] is False
    await client.patch(f"/v1/initiatives/{initiative['id']}", json={"measure_ids": []})
    assert measure_nodes(await now_tree())["red"]["needs_initiative"] is True
    await client.patch(
        f"/v1/initiatives/{initiative['id']}", json={"objective_ids": [objective["id"]]}
    )
    tree_now = await now_tree()
    assert measure_nodes(tree_now)["red"]["needs_initiative"] is False
    assert [i["id"] for i in objective_node(tree_now, objective["id"])["initiatives"]] == [
        initiative["id"]
    ]
    await client.patch(f"/v1/initiatives/{initiative['id']}", json={"name": "Renamed"})
    assert objective_node(await now_tree(), objective["id"])["initiatives"][0]["name"] == "Renamed"
    await client.delete(f"/v1/initiatives/{initiative['id']}")
    tree_now = await now_tree()
    assert measure_nodes(tree_now)["red"]["needs_initiative"] is True
    assert objective_node(tree_now, objective["id"])["initiatives"] == []


async def test_the_measure_score_carries_the_flag_too(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"])
    await reading(client, measure["id"], 10, "2026-03-01T00:00:00Z")
    url = f"/v1/measures/{measure['id']}/score"
    assert (await client.get(url, params={"as_of": "2026-03-15T00:00:00Z"})).json()[
        "needs_initiative"
    ] is True
    await create_initiative(
        client,
        scorecard["id"],
        start_date="2026-03-01",
        end_date="2026-03-31",
        measure_ids=[measure["id"]],
    )
    assert (await client.get(url, params={"as_of": "2026-03-15T00:00:00Z"})).json()[
        "needs_initiative"
    ] is False


async def test_summary_counts_statuses_and_budgets_per_currency(client):
    scorecard = await create_scorecard(client)
    sid = scorecard["id"]
    covered = await create_measure(client, sid, key="covered")
    uncovered = await create_measure(client, sid, key="uncovered")
    amber = await create_measure(client, sid, key="amber")
    for measure, value in ((covered, 10), (uncovered, 20), (amber, 75)):
        await reading(client, measure["id"], value, "2026-03-01T00:00:00Z")
    url = f"/v1/scorecards/{sid}/initiatives/summary"

    empty = await client.get(url, params={"as_of": "2026-03-15T00:00:00Z"})
    assert empty.status_code == 200
    assert empty.json() == {
        "by_status": {
            "planned": 0,
            "on_track": 0,
            "at_risk": 0,
            "off_track": 0,
            "done": 0,
            "cancelled": 0,
        },
        "budget": [],
        "red_measures_without_initiative": [covered["id"], uncovered["id"]],
    }

    await create_initiative(
        client,
        sid,
        name="A",
        status="on_track",
        start_date="2026-03-01",
        end_date="2026-03-31",
        measure_ids=[covered["id"]],
        budget={"planned": 1000.1, "spent": 200.2, "currency": "EUR"},
    )
    await create_initiative(
        client,
        sid,
        name="B",
        status="on_track",
        budget={"planned": 499.9, "spent": 0.1, "currency": "EUR"},
    )
    await create_initiative(
        client,
        sid,
        name="C",
        status="done",
        budget={"planned": 300, "spent": 310.5, "currency": "USD"},
    )
    await create_initiative(client, sid, name="D", status="at_risk")
    # Another scorecard's initiatives do not count.
    other = await create_scorecard(client, name="Other")
    await create_initiative(
        client, other["id"], budget={"planned": 7, "spent": 7, "currency": "EUR"}
    )

    summary = (await client.get(url, params={"as_of": "2026-03-15T00:00:00Z"})).json()
    assert summary == {
        "by_status": {
            "planned": 0,
            "on_track": 2,
            "at_risk": 1,
            "off_track": 0,
            "done": 1,
            "cancelled": 0,
        },
        "budget": [
            {"currency": "EUR", "planned": 1500.0, "spent": 200.3},
            {"currency": "USD", "planned": 300.0, "spent": 310.5},
        ],
        "red_measures_without_initiative": [uncovered["id"]],
    }
    # After A's end date, covered is uncovered again.
    later = (await client.get(url, params={"as_of": "2026-04-01T00:00:00Z"})).json()
    assert later["red_measures_without_initiative"] == [covered["id"], uncovered["id"]]
