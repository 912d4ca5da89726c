"""Scorecards and objectives through HTTP: the conventions every resource follows."""

from __future__ import annotations

import uuid

from tests.factories import create_measure, create_scorecard

PROBLEM = "application/problem+json"


async def test_create_scorecard_defaults_and_location(client):
    response = await client.post("/v1/scorecards", json={"name": "Academy 2026"})
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/v1/scorecards/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert uuid.UUID(body["id"]).version == 7
    assert body["timezone"] == "UTC"
    assert body["thresholds"] == {"green": 90, "amber": 70}
    assert body["score_cap"] == 100
    assert [p["key"] for p in body["perspectives"]] == [
        "financial",
        "customer",
        "internal_process",
        "learning_growth",
    ]
    assert all(p["weight"] == 1 for p in body["perspectives"])
    assert body["version"] == 1
    assert body["created_at"].endswith(("Z", "+00:00"))

    fetched = await client.get(
        body["location"] if "location" in body else response.headers["location"]
    )
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_patch_bumps_version_and_if_match_guards_it(client):
    scorecard = await create_scorecard(client)
    url = f"/v1/scorecards/{scorecard['id']}"
    patched = await client.patch(url, json={"owner": "L&D team"}, headers={"If-Match": '"1"'})
    assert patched.status_code == 200
    assert patched.json()["owner"] == "L&D team"
    assert patched.json()["name"] == "T&D 2026"  # untouched fields stay
    assert patched.json()["version"] == 2
    assert patched.headers["etag"] == '"2"'

    stale = await client.patch(url, json={"owner": "someone else"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == PROBLEM
    assert stale.json()["status"] == 412
    assert (await client.get(url)).json()["owner"] == "L&D team"

    stale_delete = await client.delete(url, headers={"If-Match": '"1"'})
    assert stale_delete.status_code == 412
    assert (await client.delete(url, headers={"If-Match": '"2"'})).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_patch_refuses_null_for_required_fields(client):
    scorecard = await create_scorecard(client)
    response = await client.patch(f"/v1/scorecards/{scorecard['id']}", json={"name": None})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"loc": ["body", "name"], "message": "cannot be null"}]


async def test_validation_errors_are_problem_json_with_locations(client):
    response = await client.post(
        "/v1/scorecards",
        json={"name": "", "timezone": "Mars/Olympus", "score_cap": 300, "colour": "blue"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert {"type", "title", "status", "detail", "errors"} <= problem.keys()
    locations = {tuple(e["loc"]) for e in problem["errors"]}
    assert {
        ("body", "name"),
        ("body", "timezone"),
        ("body", "score_cap"),
        ("body", "colour"),
    } <= locations
    unknown = next(e for e in problem["errors"] if e["loc"] == ["body", "colour"])
    assert unknown["message"] == "unknown field"


async def test_malformed_json_is_422_not_500(client):
    response = await client.post(
        "/v1/scorecards", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_custom_perspectives_must_be_unique(client):
    response = await client.post(
        "/v1/scorecards",
        json={
            "name": "x",
            "perspectives": [
                {"key": "people", "name": "People"},
                {"key": "people", "name": "Again"},
            ],
        },
    )
    assert response.status_code == 422


async def test_list_paginates_in_creation_order_and_filters_by_name(client):
    created = [await create_scorecard(client, name=f"Card {i}") for i in range(5)]
    await create_scorecard(client, name="Sales academy")
    page1 = (await client.get("/v1/scorecards", params={"limit": 2, "q": "card"})).json()
    assert [s["name"] for s in page1["items"]] == ["Card 0", "Card 1"]
    page2 = (
        await client.get(
            "/v1/scorecards", params={"limit": 2, "q": "card", "cursor": page1["next_cursor"]}
        )
    ).json()
    page3 = (
        await client.get(
            "/v1/scorecards", params={"limit": 2, "q": "card", "cursor": page2["next_cursor"]}
        )
    ).json()
    names = [s["name"] for s in page1["items"] + page2["items"] + page3["items"]]
    assert names == [c["name"] for c in created]
    assert page3["next_cursor"] is None
    assert (await client.get("/v1/scorecards", params={"limit": 0})).status_code == 422
    assert (await client.get("/v1/scorecards", params={"limit": 201})).status_code == 422
    bad_cursor = await client.get("/v1/scorecards", params={"cursor": "garbage!"})
    assert bad_cursor.status_code == 422


async def test_delete_with_measures_needs_cascade(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"])
    url = f"/v1/scorecards/{scorecard['id']}"
    refused = await client.delete(url)
    assert refused.status_code == 409
    assert "cascade" in refused.json()["detail"]
    assert (await client.delete(url, params={"cascade": "true"})).status_code == 204
    assert (await client.get(f"/v1/measures/{measure['id']}")).status_code == 404


async def test_removing_a_perspective_in_use_is_a_conflict(client):
    scorecard = await create_scorecard(client)
    await create_measure(client, scorecard["id"], perspective="financial")
    response = await client.patch(
        f"/v1/scorecards/{scorecard['id']}",
        json={"perspectives": [{"key": "customer", "name": "Customer"}]},
    )
    assert response.status_code == 409


async def test_objectives_crud_and_perspective_check(client):
    scorecard = await create_scorecard(client)
    base = f"/v1/scorecards/{scorecard['id']}/objectives"
    wrong = await client.post(base, json={"perspective": "nope", "name": "Grow skills"})
    assert wrong.status_code == 422
    created = await client.post(
        base, json={"perspective": "learning_growth", "name": "Grow skills", "weight": 2}
    )
    assert created.status_code == 201
    objective = created.json()
    assert created.headers["location"] == f"/v1/objectives/{objective['id']}"
    listed = (await client.get(base)).json()
    assert [o["id"] for o in listed["items"]] == [objective["id"]]

    measure = await create_measure(
        client, scorecard["id"], objective_id=objective["id"], perspective=None
    )
    assert measure["perspective"] == "learning_growth"
    moved = await client.patch(
        f"/v1/objectives/{objective['id']}", json={"perspective": "customer"}
    )
    assert moved.status_code == 200
    assert (await client.get(f"/v1/measures/{measure['id']}")).json()["perspective"] == "customer"

    url = f"/v1/objectives/{objective['id']}"
    assert (await client.delete(url)).status_code == 409
    assert (await client.delete(url, params={"cascade": "true"})).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_unknown_ids_and_routes_are_404_problems(client):
    missing = await client.get(f"/v1/scorecards/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert (await client.get("/v1/nothing-here")).status_code == 404
    not_uuid = await client.get("/v1/scorecards/not-a-uuid")
    assert not_uuid.status_code == 422
