"""Measures: every definition rule of docs/api.md as a client sees it."""

from __future__ import annotations

import pytest

from tests.factories import create_measure, create_scorecard


@pytest.fixture
async def scorecard(client):
    return await create_scorecard(client)


def measures_url(scorecard):
    return f"/v1/scorecards/{scorecard['id']}/measures"


async def test_create_measure_with_defaults(client, scorecard):
    response = await client.post(
        measures_url(scorecard),
        json={
            "key": "cost.per-learner_1",
            "name": "Cost per learner",
            "perspective": "financial",
            "direction": "decrease",
            "baseline": 500,
            "target": 350,
            "unit": "EUR",
            "level": "roi",
        },
    )
    assert response.status_code == 201, response.text
    measure = response.json()
    assert response.headers["location"] == f"/v1/measures/{measure['id']}"
    assert measure["aggregation"] == "latest"
    assert measure["cadence"] == "month"
    assert measure["prorate"] is False
    assert measure["weight"] == 1
    assert measure["status"] == "no_data"
    assert measure["thresholds"] is None


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"key": "Bad Key"}, "key"),
        ({"key": "-starts-with-dash"}, "key"),
        ({"key": "x" * 65}, "key"),
        ({"direction": "increase", "baseline": 10, "target": 5}, "target"),
        ({"direction": "decrease", "baseline": 10, "target": 20}, "target"),
        ({"direction": "increase", "baseline": None}, "baseline"),
        ({"direction": "range", "target_min": 5, "target_max": 1, "tolerance": 1}, "target_max"),
        ({"direction": "range", "target_min": 1, "target_max": 5, "tolerance": 0}, "tolerance"),
        ({"direction": "range", "target_min": 1}, "target_max"),
        ({"prorate": True}, "prorate"),
        ({"aggregation": "median"}, "aggregation"),
        ({"cadence": "fortnight"}, "cadence"),
        ({"weight": -1}, "weight"),
        ({"level": "vibes"}, "level"),
        ({"formula": "a +* b"}, "formula"),
        ({"formula": "__import__('os')"}, "formula"),
        ({"perspective": None}, "perspective"),
        ({"perspective": "nope"}, "perspective"),
    ],
)
async def test_invalid_definitions_are_422(client, scorecard, fields, bad_field):
    body = {
        "key": "completion",
        "name": "Completion",
        "perspective": "customer",
        "direction": "increase",
        "baseline": 0,
        "target": 100,
        **fields,
    }
    response = await client.post(measures_url(scorecard), json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"], problem
    assert bad_field in problem["detail"] + str(problem["errors"])


async def test_nan_and_infinity_are_rejected(client, scorecard):
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        body = (
            b'{"key": "k", "name": "n", "perspective": "customer", "direction": "increase",'
            b' "baseline": 0, "target": ' + literal + b"}"
        )
        response = await client.post(
            measures_url(scorecard), content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, literal


async def test_duplicate_key_is_409(client, scorecard):
    await create_measure(client, scorecard["id"], key="nps")
    response = await client.post(
        measures_url(scorecard),
        json={
            "key": "nps",
            "name": "NPS again",
            "perspective": "customer",
            "direction": "increase",
            "baseline": 0,
            "target": 50,
        },
    )
    assert response.status_code == 409
    assert "nps" in response.json()["detail"]


async def test_objective_and_perspective_must_agree(client, scorecard):
    objective = (
        await client.post(
            f"/v1/scorecards/{scorecard['id']}/objectives",
            json={"perspective": "customer", "name": "Delight learners"},
        )
    ).json()
    response = await client.post(
        measures_url(scorecard),
        json={
            "key": "nps",
            "name": "NPS",
            "objective_id": objective["id"],
            "perspective": "financial",
            "direction": "increase",
            "baseline": 0,
            "target": 50,
        },
    )
    assert response.status_code == 422
    ok = await create_measure(
        client, scorecard["id"], objective_id=objective["id"], perspective=None
    )
    assert ok["perspective"] == "customer"
    other = await create_scorecard(client)
    foreign = await client.post(
        measures_url(other),
        json={
            "key": "x",
            "name": "x",
            "objective_id": objective["id"],
            "direction": "increase",
            "baseline": 0,
            "target": 1,
        },
    )
    assert foreign.status_code == 422


async def test_formulas_need_known_keys_and_no_cycles(client, scorecard):
    await create_measure(client, scorecard["id"], key="completed", aggregation="count")
    await create_measure(client, scorecard["id"], key="enrolled", aggregation="count")
    unknown = await client.post(
        measures_url(scorecard),
        json={
            "key": "rate",
            "name": "Rate",
            "perspective": "customer",
            "direction": "increase",
            "baseline": 0,
            "target": 100,
            "formula": "completed / missing * 100",
        },
    )
    assert unknown.status_code == 422
    assert "missing" in unknown.text
    rate = await create_measure(
        client, scorecard["id"], key="rate", formula="completed / enrolled * 100"
    )
    # Making an input depend on the derived measure would close a cycle.
    enrolled = (await client.get(measures_url(scorecard))).json()["items"][1]
    cycle = await client.patch(f"/v1/measures/{enrolled['id']}", json={"formula": "rate * 2"})
    assert cycle.status_code == 422
    assert "cycle" in cycle.text.lower()
    # An input in use can be neither renamed nor deleted.
    rename = await client.patch(f"/v1/measures/{enrolled['id']}", json={"key": "signed-up"})
    assert rename.status_code == 409
    assert (await client.delete(f"/v1/measures/{enrolled['id']}")).status_code == 409
    # A derived measure takes no readings.
    refused = await client.post(
        f"/v1/measures/{rate['id']}/readings",
        json={"value": 1, "observed_at": "2026-01-01T00:00:00Z"},
    )
    assert refused.status_code == 409


async def test_patch_validates_the_merged_definition(client, scorecard):
    measure = await create_measure(client, scorecard["id"], baseline=0, target=100)
    url = f"/v1/measures/{measure['id']}"
    assert (await client.patch(url, json={"target": -5})).status_code == 422
    flipped = await client.patch(
        url, json={"direction": "decrease", "target": -5}, headers={"If-Match": '"1"'}
    )
    assert flipped.status_code == 200
    assert flipped.json()["direction"] == "decrease"
    assert flipped.json()["version"] == 2
    assert (
        await client.patch(url, json={"name": "x"}, headers={"If-Match": '"1"'})
    ).status_code == 412
    assert (await client.patch(url, json={"direction": None})).status_code == 422


async def test_list_filters(client, scorecard):
    a = await create_measure(client, scorecard["id"], perspective="financial", level="roi")
    b = await create_measure(client, scorecard["id"], perspective="customer", level="reaction")
    url = measures_url(scorecard)
    assert [m["id"] for m in (await client.get(url)).json()["items"]] == [a["id"], b["id"]]
    by_perspective = (await client.get(url, params={"perspective": "customer"})).json()
    assert [m["id"] for m in by_perspective["items"]] == [b["id"]]
    by_level = (await client.get(url, params={"level": "roi"})).json()
    assert [m["id"] for m in by_level["items"]] == [a["id"]]


async def test_delete_with_readings_needs_cascade(client, scorecard):
    measure = await create_measure(client, scorecard["id"])
    url = f"/v1/measures/{measure['id']}"
    await client.post(f"{url}/readings", json={"value": 5, "observed_at": "2026-03-01T00:00:00Z"})
    assert (await client.delete(url)).status_code == 409
    assert (await client.delete(url, params={"cascade": "true"})).status_code == 204
    assert (await client.get(url)).status_code == 404
