"""Scores through HTTP, numbers checked end to end against hand-computed values."""

from __future__ import annotations

import pytest

from tests.factories import create_measure, create_scorecard

AS_OF = "2026-03-15T12:00:00Z"


async def post_reading(client, measure, value, observed_at, **extra):
    response = await client.post(
        f"/v1/measures/{measure['id']}/readings",
        json={"value": value, "observed_at": observed_at, **extra},
    )
    assert response.status_code == 201, response.text


@pytest.fixture
async def scorecard(client):
    return await create_scorecard(client, timezone="Europe/Berlin")


async def test_measure_score_latest_with_trend(client, scorecard):
    # increase 50 → 90; March latest 80 → (80−50)/(90−50) = 75 % → amber; Feb 70 → 50 → red.
    measure = await create_measure(
        client, scorecard["id"], key="completion", baseline=50, target=90, unit="%"
    )
    await post_reading(client, measure, 70, "2026-02-10T09:00:00Z")
    await post_reading(client, measure, 80, "2026-03-10T09:00:00Z")
    await post_reading(client, measure, 99, "2026-03-20T09:00:00Z")  # after as_of: invisible
    response = await client.get(f"/v1/measures/{measure['id']}/score", params={"as_of": AS_OF})
    assert response.status_code == 200, response.text
    score = response.json()
    assert score["value"] == 80
    assert score["progress"] == pytest.approx(75)
    assert score["score"] == pytest.approx(75)
    assert score["status"] == "amber"
    assert score["stale"] is False
    assert score["readings_in_period"] == 1
    assert score["unit"] == "%"
    # The month is cut in Europe/Berlin: it starts at 23:00 UTC the day before.
    assert score["period"] == {"start": "2026-02-28T23:00:00Z", "end": "2026-03-31T22:00:00Z"}
    assert score["trend"] == {
        "previous_score": pytest.approx(50),
        "delta": pytest.approx(25),
        "direction": "up",
    }

    previous = (
        await client.get(
            f"/v1/measures/{measure['id']}/score", params={"as_of": AS_OF, "period": "previous"}
        )
    ).json()
    assert previous["value"] == 70
    assert previous["status"] == "red"
    assert previous["period"]["end"] == "2026-02-28T23:00:00Z"


async def test_scorecard_rollup_and_coverage(client, scorecard):
    objective = (
        await client.post(
            f"/v1/scorecards/{scorecard['id']}/objectives",
            json={"perspective": "customer", "name": "Happy learners", "weight": 3},
        )
    ).json()
    # Objective: a (weight 1) score 100, b (weight 3) score 50 → (100 + 150) / 4 = 62.5.
    a = await create_measure(
        client,
        scorecard["id"],
        key="a",
        objective_id=objective["id"],
        perspective=None,
        baseline=0,
        target=10,
    )
    b = await create_measure(
        client,
        scorecard["id"],
        key="b",
        objective_id=objective["id"],
        perspective=None,
        baseline=0,
        target=10,
        weight=3,
    )
    # Loose customer measure c (weight 1) score 90; customer = (3·62.5 + 1·90) / 4 = 69.375.
    c = await create_measure(
        client, scorecard["id"], key="c", perspective="customer", baseline=0, target=10
    )
    # Financial measure d has no data: left out, coverage of the scorecard 1/4.
    await create_measure(
        client, scorecard["id"], key="d", perspective="financial", baseline=0, target=10
    )
    await post_reading(client, a, 12, "2026-03-01T00:00:00Z")  # 120 → capped at 100
    await post_reading(client, b, 5, "2026-03-01T00:00:00Z")
    await post_reading(client, c, 9, "2026-03-01T00:00:00Z")

    response = await client.get(f"/v1/scorecards/{scorecard['id']}/score", params={"as_of": AS_OF})
    assert response.status_code == 200
    card = response.json()
    assert card["scorecard_id"] == scorecard["id"]
    assert card["score"] == pytest.approx(69.375)
    assert card["status"] == "red"
    assert card["coverage"] == pytest.approx(0.25)
    perspectives = {p["key"]: p for p in card["perspectives"]}
    assert list(perspectives) == ["financial", "customer", "internal_process", "learning_growth"]
    customer = perspectives["customer"]
    assert customer["score"] == pytest.approx(69.375)
    assert customer["coverage"] == 1
    [objective_score] = customer["objectives"]
    assert objective_score["score"] == pytest.approx(62.5)
    assert [m["key"] for m in objective_score["measures"]] == ["a", "b"]
    assert objective_score["measures"][0]["progress"] == pytest.approx(120)
    assert objective_score["measures"][0]["score"] == 100
    assert [m["key"] for m in customer["measures"]] == ["c"]
    assert perspectives["financial"]["status"] == "no_data"
    assert perspectives["financial"]["score"] is None


async def test_derived_measure_is_ratio_of_sums(client, scorecard):
    completed = await create_measure(
        client, scorecard["id"], key="completed", aggregation="sum", baseline=0, target=100
    )
    enrolled = await create_measure(
        client, scorecard["id"], key="enrolled", aggregation="sum", baseline=0, target=100
    )
    rate = await create_measure(
        client,
        scorecard["id"],
        key="completion-rate",
        formula="completed / enrolled * 100",
        baseline=50,
        target=90,
    )
    for value, when in ((3, "2026-03-02T00:00:00Z"), (5, "2026-03-09T00:00:00Z")):
        await post_reading(client, completed, value, when)
    for value, when in ((4, "2026-03-02T00:00:00Z"), (6, "2026-03-09T00:00:00Z")):
        await post_reading(client, enrolled, value, when)
    score = (await client.get(f"/v1/measures/{rate['id']}/score", params={"as_of": AS_OF})).json()
    # (3 + 5) / (4 + 6) × 100 = 80 → (80 − 50) / 40 = 75.
    assert score["value"] == pytest.approx(80)
    assert score["score"] == pytest.approx(75)
    assert score["readings_in_period"] == 0
    # No enrolments in February: division by zero → no data.
    previous = (
        await client.get(
            f"/v1/measures/{rate['id']}/score", params={"as_of": AS_OF, "period": "previous"}
        )
    ).json()
    assert previous["value"] is None
    assert previous["status"] == "no_data"


async def test_history_one_entry_per_period(client, scorecard):
    measure = await create_measure(
        client, scorecard["id"], key="hours", aggregation="sum", baseline=0, target=10
    )
    await post_reading(client, measure, 10, "2026-01-15T00:00:00Z")
    await post_reading(client, measure, 4, "2026-02-15T00:00:00Z")
    await post_reading(client, measure, 1, "2026-02-16T00:00:00Z")
    response = await client.get(
        f"/v1/measures/{measure['id']}/history",
        params={"from": "2026-01-01T00:00:00+01:00", "to": "2026-04-01T00:00:00+02:00"},
    )
    assert response.status_code == 200, response.text
    history = response.json()
    assert history["cadence"] == "month"
    assert [(e["value"], e["status"]) for e in history["entries"]] == [
        (10, "green"),
        (5, "red"),
        (0, "red"),
    ]
    card = (
        await client.get(
            f"/v1/scorecards/{scorecard['id']}/history",
            params={"from": "2026-01-01T00:00:00+01:00", "to": "2026-04-01T00:00:00+02:00"},
        )
    ).json()
    assert [e["score"] for e in card["entries"]] == [100, 50, 0]
    assert card["entries"][0]["period"]["start"] == "2025-12-31T23:00:00Z"


async def test_score_query_validation(client, scorecard):
    url = f"/v1/scorecards/{scorecard['id']}/score"
    assert (await client.get(url, params={"as_of": "2026-03-15T12:00:00"})).status_code == 422
    assert (await client.get(url, params={"period": "next"})).status_code == 422
    history = f"/v1/scorecards/{scorecard['id']}/history"
    backwards = await client.get(
        history, params={"from": "2026-03-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    )
    assert backwards.status_code == 422
    huge = await client.get(
        history,
        params={"from": "1900-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "cadence": "day"},
    )
    assert huge.status_code == 422
    assert (
        await client.get("/v1/scorecards/00000000-0000-7000-8000-000000000000/score")
    ).status_code == 404


async def test_stored_status_follows_readings_and_definition(client, scorecard):
    measure = await create_measure(client, scorecard["id"], baseline=0, target=100)
    url = f"/v1/measures/{measure['id']}"
    assert (await client.get(url)).json()["status"] == "no_data"
    await post_reading(client, measure, 95, "2020-01-01T00:00:00Z")  # latest, however old
    assert (await client.get(url)).json()["status"] == "green"
    # Raising the bar is a definition change: re-evaluated in the same request.
    await client.patch(url, json={"thresholds": {"green": 99, "amber": 96}})
    after = (await client.get(url)).json()
    assert after["status"] == "red"
    assert after["version"] == 2  # the status change itself is not an edit
    # Scorecard thresholds apply once the override is removed.
    await client.patch(url, json={"thresholds": None})
    await client.patch(
        f"/v1/scorecards/{scorecard['id']}", json={"thresholds": {"green": 95, "amber": 50}}
    )
    assert (await client.get(url)).json()["status"] == "green"
    reading = (await client.get(f"{url}/readings")).json()["items"][0]
    await client.delete(f"/v1/readings/{reading['id']}")
    assert (await client.get(url)).json()["status"] == "no_data"
