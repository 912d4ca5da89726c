"""Target schedules as a client sees them: stored and shown on the measure, validated against
the measure's rules, and used (and shown) by scores, history, crossings and the sweeper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.factories import create_measure, create_scorecard

JULY = "2026-07-01T00:00:00Z"


async def test_a_schedule_is_stored_and_shown_with_every_field(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(
        client,
        scorecard["id"],
        targets=[
            {"from": "2026-07-01T02:00:00+02:00", "target": 200},
            {"from": "2026-10-01T00:00:00Z", "baseline": 10, "thresholds": {"green": 80}},
        ],
    )
    expected = [
        {
            "from": JULY,
            "baseline": None,
            "target": 200.0,
            "target_min": None,
            "target_max": None,
            "thresholds": None,
        },
        {
            "from": "2026-10-01T00:00:00Z",
            "baseline": 10.0,
            "target": None,
            "target_min": None,
            "target_max": None,
            "thresholds": {"green": 80.0, "amber": 70.0},
        },
    ]
    assert measure["targets"] == expected
    assert measure["due_after_days"] is None
    fetched = (await client.get(f"/v1/measures/{measure['id']}")).json()
    assert fetched["targets"] == expected
    listed = (await client.get(f"/v1/scorecards/{scorecard['id']}/measures")).json()
    assert listed["items"][0]["targets"] == expected
    cleared = await client.patch(f"/v1/measures/{measure['id']}", json={"targets": None})
    assert cleared.status_code == 200
    assert cleared.json()["targets"] is None
    assert cleared.json()["version"] == measure["version"] + 1


async def test_june_scores_against_the_own_target_july_against_the_step(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(
        client, scorecard["id"], baseline=0, target=100, targets=[{"from": JULY, "target": 200}]
    )
    url = f"/v1/measures/{measure['id']}"
    posted = await client.post(
        f"{url}/readings", json={"value": 100, "observed_at": "2026-06-10T00:00:00Z"}
    )
    assert posted.status_code == 201
    june = (await client.get(f"{url}/score", params={"as_of": "2026-06-20T00:00:00Z"})).json()
    july = (await client.get(f"{url}/score", params={"as_of": "2026-07-20T00:00:00Z"})).json()
    assert (june["target"], june["progress"], june["status"]) == (100, 100, "green")
    assert (july["target"], july["progress"], july["status"]) == (200, 50, "red")
    assert (july["baseline"], july["target_min"], july["target_max"]) == (0, None, None)
    card = (
        await client.get(
            f"/v1/scorecards/{scorecard['id']}/score", params={"as_of": "2026-07-20T00:00:00Z"}
        )
    ).json()
    [node] = card["perspectives"][3]["measures"]
    assert (node["target"], node["progress"]) == (200, 50)
    history = (
        await client.get(
            f"{url}/history",
            params={"from": "2026-06-01T00:00:00Z", "to": "2026-08-01T00:00:00Z"},
        )
    ).json()
    assert [(e["target"], e["progress"]) for e in history["entries"]] == [(100, 100), (200, 50)]


async def test_editing_the_schedule_changes_the_next_score_at_once(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], baseline=0, target=100)
    url = f"/v1/measures/{measure['id']}"
    await client.post(f"{url}/readings", json={"value": 100, "observed_at": "2026-06-10T00:00:00Z"})
    score_url = f"/v1/scorecards/{scorecard['id']}/score"
    as_of = {"as_of": "2026-07-20T00:00:00Z"}
    before = (await client.get(score_url, params=as_of)).json()
    assert before["score"] == 100
    patched = await client.patch(url, json={"targets": [{"from": JULY, "target": 400}]})
    assert patched.status_code == 200, patched.text
    after = (await client.get(score_url, params=as_of)).json()
    assert after["score"] == 25  # 100 / 400, not the cached 100


async def test_a_crossing_names_the_thresholds_in_effect(client, app):
    now = datetime.now(UTC)
    scorecard = await create_scorecard(client)
    step_start = (now - timedelta(days=400)).isoformat()
    measure = await create_measure(
        client,
        scorecard["id"],
        baseline=0,
        target=100,
        targets=[{"from": step_start, "thresholds": {"green": 50, "amber": 30}}],
    )
    await client.post(
        f"/v1/measures/{measure['id']}/readings",
        json={"value": 60, "observed_at": now.isoformat()},
    )
    assert (await client.get(f"/v1/measures/{measure['id']}")).json()["status"] == "green"
    async with app.state.engine.connect() as connection:
        [data] = (
            await connection.execute(
                text("SELECT data FROM events WHERE data->>'measure_id' = :id"),
                {"id": measure["id"]},
            )
        ).scalars()
    assert data["thresholds"] == {"green": 50, "amber": 30}
    assert data["status"] == "green"


async def test_the_sweeper_records_the_crossing_a_step_makes_when_it_takes_effect(
    client, app, sessionmaker
):
    from app.thresholds.sweeper import sweep

    now = datetime.now(UTC)
    scorecard = await create_scorecard(client)
    # Daily cadence; from two days on the target doubles.
    step = (now + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    measure = await create_measure(
        client,
        scorecard["id"],
        cadence="day",
        baseline=0,
        target=100,
        targets=[{"from": step.isoformat(), "target": 200}],
    )
    await client.post(
        f"/v1/measures/{measure['id']}/readings",
        json={"value": 100, "observed_at": now.isoformat()},
    )
    assert await sweep(sessionmaker, now) == 0
    assert await sweep(sessionmaker, step + timedelta(hours=1)) == 1
    assert (await client.get(f"/v1/measures/{measure['id']}")).json()["status"] == "red"
    async with app.state.engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT data FROM events WHERE data->>'measure_id' = :id ORDER BY id"),
                {"id": measure["id"]},
            )
        ).scalars()
        assert [(e["previous_status"], e["status"], e["score"]) for e in rows] == [
            ("no_data", "green", 100),
            ("green", "red", 50),
        ]


@pytest.mark.parametrize(
    ("targets", "loc"),
    [
        ("soon", ["body", "targets"]),
        ({"from": JULY}, ["body", "targets"]),
        ([None], ["body", "targets", 0]),
        ([{"from": JULY, "goal": 5}], ["body", "targets", 0, "goal"]),
        ([{"from": JULY, "target": [200]}], ["body", "targets", 0, "target"]),
        ([{"from": "2026-07-01T00:00:00Z\u0000"}], ["body", "targets", 0, "from"]),
        ([{"from": "2026-13-01T00:00:00Z"}], ["body", "targets", 0, "from"]),
        ([{"target": 200}], ["body", "targets", 0, "from"]),
        ([{"from": "2026-07-01T00:00:00"}], ["body", "targets", 0, "from"]),  # no offset
        ([{"from": 1782864000}], ["body", "targets", 0, "from"]),  # a Unix time
        ([{"from": "1899-12-31T23:59:59Z"}], ["body", "targets", 0, "from"]),
        ([{"from": "2200-01-01T00:00:00Z"}], ["body", "targets", 0, "from"]),
        ([{"from": "not a date"}], ["body", "targets", 0, "from"]),
        ([{"from": JULY, "target": "200"}], ["body", "targets", 0, "target"]),
        ([{"from": JULY, "target": True}], ["body", "targets", 0, "target"]),
        ([{"from": JULY, "target": 1e16}], ["body", "targets", 0, "target"]),
        ([{"from": JULY, "target": "NaN"}], ["body", "targets", 0, "target"]),
        ([{"from": JULY, "tolerance": 5}], ["body", "targets", 0, "tolerance"]),
        ([{"from": JULY, "thresholds": {"green": 50, "amber": 60}}], ["body", "targets", 0]),
        ([{"from": JULY, "thresholds": {"green": 500}}], ["body", "targets", 0]),
        ([{"from": "2026-08-01T00:00:00Z"}, {"from": JULY}], ["body", "targets"]),
        ([{"from": JULY}, {"from": "2026-07-01T02:00:00+02:00"}], ["body", "targets"]),
        ([{"from": f"2026-01-{d:02d}T00:00:00Z"} for d in range(1, 32)] * 4, ["body", "targets"]),
        # The measure's rules hold for the values in effect: increase needs target > baseline.
        ([{"from": JULY, "target": -5}], ["body", "targets", 0, "target"]),
        ([{"from": JULY, "baseline": 100}], ["body", "targets", 0]),
    ],
)
async def test_hostile_schedules_are_refused(client, targets, loc):
    scorecard = await create_scorecard(client)
    response = await client.post(
        f"/v1/scorecards/{scorecard['id']}/measures",
        json={
            "key": "m",
            "name": "M",
            "perspective": "financial",
            "direction": "increase",
            "baseline": 0,
            "target": 100,
            "targets": targets,
        },
    )
    assert response.status_code == 422, response.text
    assert any(error["loc"][: len(loc)] == loc for error in response.json()["errors"]), (
        response.json()
    )


async def test_a_patch_must_keep_every_step_valid_for_the_merged_definition(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(
        client, scorecard["id"], baseline=0, target=100, targets=[{"from": JULY, "target": 50}]
    )
    # Raising the own baseline to 60 would leave July's target 50 below it.
    response = await client.patch(f"/v1/measures/{measure['id']}", json={"baseline": 60})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "targets", 0, "target"]
    response = await client.patch(f"/v1/measures/{measure['id']}", json={"baseline": 40})
    assert response.status_code == 200
