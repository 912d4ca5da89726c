"""Initiatives over HTTP: create, read, list with filters, update, delete, with the
conventions every resource follows; links only within the scorecard; links that follow
deletes of objectives, measures and scorecards; hostile values on every field."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from app.auth.keys import Scope
from tests.factories import create_measure, create_scorecard

PROBLEM = "application/problem+json"


async def create_objective(client, scorecard_id: str, **fields: Any) -> dict[str, Any]:
    body = {"perspective": "learning_growth", "name": "Build capability", **fields}
    response = await client.post(f"/v1/scorecards/{scorecard_id}/objectives", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def create_initiative(client, scorecard_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Onboarding academy",
        "start_date": "2026-03-01",
        "end_date": "2026-06-30",
        **fields,
    }
    response = await client.post(f"/v1/scorecards/{scorecard_id}/initiatives", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def world(client) -> dict[str, Any]:
    scorecard = await create_scorecard(client)
    objective = await create_objective(client, scorecard["id"])
    measure = await create_measure(client, scorecard["id"], objective_id=objective["id"])
    return {"scorecard": scorecard, "objective": objective, "measure": measure}


async def test_create_with_defaults_location_and_etag(client, world):
    scorecard_id = world["scorecard"]["id"]
    response = await client.post(
        f"/v1/scorecards/{scorecard_id}/initiatives",
        json={
            "name": "  Manager coaching  ",
            "start_date": "2026-03-01",
            "end_date": "2026-03-01",
            "objective_ids": [world["objective"]["id"]],
            "measure_ids": [world["measure"]["id"]],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["Location"] == f"/v1/initiatives/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["name"] == "Manager coaching"
    assert body["scorecard_id"] == scorecard_id
    assert body["status"] == "planned" and body["progress"] == 0
    assert body["budget"] is None and body["description"] is None and body["owner"] is None
    assert body["objective_ids"] == [world["objective"]["id"]]
    assert body["measure_ids"] == [world["measure"]["id"]]
    assert (body["start_date"], body["end_date"]) == ("2026-03-01", "2026-03-01")
    assert body["version"] == 1
    got = await client.get(body["id"].join(["/v1/initiatives/", ""]))
    assert got.status_code == 200 and got.headers["ETag"] == '"1"'
    assert got.json() == body


async def test_budget_round_trips_exactly(client, world):
    initiative = await create_initiative(
        client,
        world["scorecard"]["id"],
        budget={"planned": 12000.1, "spent": 0.3, "currency": "EUR"},
        status="on_track",
        progress=37.5,
        owner="Academy team",
        description="Two cohorts",
    )
    got = (await client.get(f"/v1/initiatives/{initiative['id']}")).json()
    assert got["budget"] == {"planned": 12000.1, "spent": 0.3, "currency": "EUR"}
    assert (got["status"], got["progress"], got["owner"]) == ("on_track", 37.5, "Academy team")


async def test_patch_is_partial_bumps_version_and_if_match_guards_it(client, world):
    initiative = await create_initiative(
        client,
        world["scorecard"]["id"],
        objective_ids=[world["objective"]["id"]],
        budget={"planned": 100, "spent": 10, "currency": "USD"},
    )
    url = f"/v1/initiatives/{initiative['id']}"
    patched = await client.patch(url, json={"progress": 40}, headers={"If-Match": '"1"'})
    assert patched.status_code == 200, patched.text
    assert patched.headers["ETag"] == '"2"'
    body = patched.json()
    assert body["progress"] == 40 and body["version"] == 2
    # Left out: unchanged (links and budget too).
    assert body["objective_ids"] == [world["objective"]["id"]]
    assert body["budget"] == {"planned": 100, "spent": 10, "currency": "USD"}
    stale = await client.patch(url, json={"progress": 50}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.headers["content-type"] == PROBLEM
    # Links replaced when sent; null clears the budget and the optional texts.
    cleared = await client.patch(
        url,
        json={"objective_ids": [], "measure_ids": [world["measure"]["id"]], "budget": None},
    )
    assert cleared.status_code == 200
    assert cleared.json()["objective_ids"] == []
    assert cleared.json()["measure_ids"] == [world["measure"]["id"]]
    assert cleared.json()["budget"] is None
    assert (await client.get(url)).json() == cleared.json()
    assert (await client.delete(url, headers={"If-Match": '"1"'})).status_code == 412
    assert (await client.delete(url, headers={"If-Match": '"3"'})).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url)).status_code == 404
    assert (await client.patch(url, json={"progress": 1})).status_code == 404


async def test_patch_checks_dates_against_the_stored_ones(client, world):
    initiative = await create_initiative(client, world["scorecard"]["id"])  # Mar 1 – Jun 30
    url = f"/v1/initiatives/{initiative['id']}"
    late_start = await client.patch(url, json={"start_date": "2026-07-01"})
    assert late_start.status_code == 422
    assert late_start.json()["errors"][0]["loc"] == ["body", "start_date"]
    early_end = await client.patch(url, json={"end_date": "2026-02-28"})
    assert early_end.status_code == 422
    assert early_end.json()["errors"][0]["loc"] == ["body", "end_date"]
    both = await client.patch(url, json={"start_date": "2026-07-01", "end_date": "2026-08-01"})
    assert both.status_code == 200 and both.json()["version"] == 2


@pytest.mark.parametrize("field", ["name", "objective_ids", "start_date", "status", "progress"])
async def test_patch_refuses_null_for_required_fields(client, world, field):
    initiative = await create_initiative(client, world["scorecard"]["id"])
    response = await client.patch(f"/v1/initiatives/{initiative['id']}", json={field: None})
    assert response.status_code == 422
    assert (await client.get(f"/v1/initiatives/{initiative['id']}")).json()["version"] == 1


async def test_links_must_be_of_the_same_scorecard(client, world):
    other = await create_scorecard(client, name="Other")
    foreign_objective = await create_objective(client, other["id"])
    foreign_measure = await create_measure(client, other["id"])
    unknown = str(uuid.uuid4())
    url = f"/v1/scorecards/{world['scorecard']['id']}/initiatives"
    response = await client.post(
        url,
        json={
            "name": "Cross",
            "start_date": "2026-01-01",
            "end_date": "2026-02-01",
            "objective_ids": [world["objective"]["id"], foreign_objective["id"]],
            "measure_ids": [unknown, foreign_measure["id"], world["measure"]["id"]],
        },
    )
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e["message"] for e in response.json()["errors"]}
    assert set(errors) == {("body", "objective_ids"), ("body", "measure_ids")}
    assert foreign_objective["id"] in errors[("body", "objective_ids")]
    assert world["objective"]["id"] not in errors[("body", "objective_ids")]
    assert unknown in errors[("body", "measure_ids")]
    assert foreign_measure["id"] in errors[("body", "measure_ids")]
    assert world["measure"]["id"] not in errors[("body", "measure_ids")]
    assert (await client.get(url)).json()["items"] == []
    # And on update.
    initiative = await create_initiative(client, world["scorecard"]["id"])
    patched = await client.patch(
        f"/v1/initiatives/{initiative['id']}", json={"measure_ids": [foreign_measure["id"]]}
    )
    assert patched.status_code == 422
    assert foreign_measure["id"] in patched.json()["errors"][0]["message"]
    assert (await client.get(f"/v1/initiatives/{initiative['id']}")).json()["measure_ids"] == []


async def test_unknown_scorecard_is_404(client):
    url = f"/v1/scorecards/{uuid.uuid4()}/initiatives"
    body = {"name": "X", "start_date": "2026-01-01", "end_date": "2026-01-02"}
    assert (await client.post(url, json=body)).status_code == 404
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url + "/summary")).status_code == 404


async def test_list_pages_in_creation_order_and_filters(client, world):
    scorecard_id = world["scorecard"]["id"]
    objective, measure = world["objective"], world["measure"]
    first = await create_initiative(client, scorecard_id, name="A", owner="Ana")
    second = await create_initiative(
        client, scorecard_id, name="B", objective_ids=[objective["id"]], status="at_risk"
    )
    third = await create_initiative(
        client, scorecard_id, name="C", measure_ids=[measure["id"]], owner="Ana"
    )
    other = await create_scorecard(client, name="Other")
    await create_initiative(client, other["id"], name="elsewhere", owner="Ana")
    url = f"/v1/scorecards/{scorecard_id}/initiatives"

    page = (await client.get(url, params={"limit": 2})).json()
    assert [i["name"] for i in page["items"]] == ["A", "B"]
    rest = (await client.get(url, params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert [i["name"] for i in rest["items"]] == ["C"] and rest["next_cursor"] is None
    assert rest["items"][0] == third

    async def names(**params: Any) -> list[str]:
        response = await client.get(url, params=params)
        assert response.status_code == 200, response.text
        return [i["name"] for i in response.json()["items"]]

    assert await names(objective_id=objective["id"]) == ["B"]
    assert await names(measure_id=measure["id"]) == ["C"]
    assert await names(status="at_risk") == ["B"]
    assert await names(status="planned") == ["A", "C"]
    assert await names(owner="Ana") == ["A", "C"]
    assert await names(owner="Ana", measure_id=measure["id"]) == ["C"]
    assert await names(owner="nobody") == []
    assert first["id"] < second["id"] < third["id"]


async def test_deleting_an_objective_or_measure_unlinks_it(client, world):
    scorecard_id = world["scorecard"]["id"]
    second_objective = await create_objective(client, scorecard_id, name="Second")
    loose = await create_measure(client, scorecard_id)
    initiative = await create_initiative(
        client,
        scorecard_id,
        objective_ids=[world["objective"]["id"], second_objective["id"]],
        measure_ids=[world["measure"]["id"], loose["id"]],
    )
    url = f"/v1/initiatives/{initiative['id']}"
    assert (await client.delete(f"/v1/measures/{loose['id']}")).status_code == 204
    body = (await client.get(url)).json()
    assert body["measure_ids"] == [world["measure"]["id"]]
    # Cascading the objective also takes its measure.
    deleted = await client.delete(f"/v1/objectives/{world['objective']['id']}?cascade=true")
    assert deleted.status_code == 204
    body = (await client.get(url)).json()
    assert body["objective_ids"] == [second_objective["id"]]
    assert body["measure_ids"] == []
    # Deleting the scorecard deletes its initiatives.
    assert (await client.delete(f"/v1/scorecards/{scorecard_id}?cascade=true")).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_scopes(scoped_client, client, world):
    reader = await scoped_client(Scope.read)
    url = f"/v1/scorecards/{world['scorecard']['id']}/initiatives"
    body = {"name": "X", "start_date": "2026-01-01", "end_date": "2026-01-02"}
    assert (await reader.post(url, json=body)).status_code == 403
    assert (await reader.get(url)).status_code == 200
    initiative = await create_initiative(client, world["scorecard"]["id"])
    assert (await reader.get(f"/v1/initiatives/{initiative['id']}")).status_code == 200
    assert (
        await reader.patch(f"/v1/initiatives/{initiative['id']}", json={"progress": 5})
    ).status_code == 403
    assert (await reader.delete(f"/v1/initiatives/{initiative['id']}")).status_code == 403


# --- hostile values --------------------------------------------------------------------------

BAD_TEXT = ["nul \x00 inside", "bell\x07", "escape\x1b[31m", "\x1f"]
BAD_DATES: list[Any] = [
    "2026-13-01",
    "2026-02-30",
    "2026-03-01T00:00:00Z",
    "2026-3-1",
    "20260301",
    20260301,
    1772323200,
    "1899-12-31",
    "2200-01-01",
    "0001-01-01",
    "9999-12-31",
    "infinity",
    "NaN",
    "",
    True,
    None,
    ["2026-03-01"],
]
BAD_IDS: list[Any] = [
    "not-a-list",
    ["not-a-uuid"],
    [1],
    [None],
    {"id": "x"},
    None,
    ["00000000-0000-0000-0000-00000000000g"],
]
BAD_PROGRESS: list[Any] = [-1, 100.000001, 101, "50", True, None, 1e16, "NaN", [50]]
BAD_AMOUNTS: list[Any] = [-0.01, -1, "5", True, None, 1e16, 1e308, "NaN", {}]
BAD_CURRENCIES: list[Any] = [
    "XXX",
    "XTS",
    "XAU",
    "eur",
    "EURO",
    "EU",
    "",
    "ZZZ",
    "E\x00R",
    1,
    None,
]


def _cases() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []
    for value in [None, "", "   ", "x" * 201, 5, *BAD_TEXT]:
        cases.append(("name", value))
    for value in ["x" * 10_001, 5, *BAD_TEXT]:
        cases.append(("description", value))
    for value in ["x" * 201, 5, *BAD_TEXT]:
        cases.append(("owner", value))
    for field in ("objective_ids", "measure_ids"):
        for value in BAD_IDS:
            cases.append((field, value))
        cases.append((field, [str(uuid.uuid4())] * 2))  # the same id twice
        cases.append((field, [str(uuid.uuid4()) for _ in range(201)]))
    for field in ("start_date", "end_date"):
        for value in BAD_DATES:
            cases.append((field, value))
    for value in ["bogus", "Done", "", None, 1, "done\x00"]:
        cases.append(("status", value))
    for value in BAD_PROGRESS:
        cases.append(("progress", value))
    for value in BAD_AMOUNTS:
        cases.append(("budget.planned", value))
        cases.append(("budget.spent", value))
    for value in BAD_CURRENCIES:
        cases.append(("budget.currency", value))
    cases.append(("budget", "EUR 5"))
    cases.append(("budget", {"planned": 1, "spent": 1}))
    cases.append(("budget", {"planned": 1, "spent": 1, "currency": "EUR", "extra": 1}))
    cases.append(("unknown_field", 1))
    return cases


def _with(body: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    body = {**body, "budget": {"planned": 10, "spent": 1, "currency": "EUR"}}
    if field.startswith("budget."):
        body["budget"] = {**body["budget"], field.removeprefix("budget."): value}
    else:
        body[field] = value
    return body


VALID = {"name": "Coaching", "start_date": "2026-03-01", "end_date": "2026-06-30"}


@pytest.mark.parametrize(("field", "value"), _cases())
async def test_hostile_values_are_refused_on_create_and_patch(client, world, field, value):
    scorecard_id = world["scorecard"]["id"]
    url = f"/v1/scorecards/{scorecard_id}/initiatives"
    created = await client.post(url, json=_with(VALID, field, value))
    assert created.status_code == 422, (field, value, created.text)
    assert created.headers["content-type"] == PROBLEM
    assert created.json()["errors"]
    initiative = await create_initiative(client, scorecard_id)
    patch = _with({}, field, value)
    if not field.startswith("budget"):
        patch.pop("budget")
    patched = await client.patch(f"/v1/initiatives/{initiative['id']}", json=patch)
    if field in ("description", "owner") and value is None:
        return  # null clears an optional text: not hostile on PATCH
    assert patched.status_code == 422, (field, value, patched.text)
    listed = (await client.get(url)).json()["items"]
    assert listed == [initiative]  # nothing stored, nothing changed


async def test_nan_and_infinity_literals_are_refused(client, world):
    url = f"/v1/scorecards/{world['scorecard']['id']}/initiatives"
    for literal in ("NaN", "Infinity", "-Infinity"):
        for body in (
            '{"name": "x", "start_date": "2026-01-01", "end_date": "2026-01-02", '
            f'"progress": {literal}}}',
            '{"name": "x", "start_date": "2026-01-01", "end_date": "2026-01-02", '
            f'"budget": {{"planned": {literal}, "spent": 0, "currency": "EUR"}}}}',
        ):
            response = await client.post(
                url, content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 422, (literal, response.text)


async def test_start_after_end_is_refused(client, world):
    url = f"/v1/scorecards/{world['scorecard']['id']}/initiatives"
    response = await client.post(
        url, json={"name": "x", "start_date": "2026-05-02", "end_date": "2026-05-01"}
    )
    assert response.status_code == 422
    assert "start_date" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"objective_id": "nope"},
        {"measure_id": "1"},
        {"owner": "x\x00"},
        {"owner": "x" * 201},
        {"limit": 0},
        {"limit": 201},
        {"cursor": "%%%"},
        {"cursor": "WyJub3QgYSB1dWlkIl0"},
    ],
)
async def test_hostile_list_parameters(client, world, params):
    url = f"/v1/scorecards/{world['scorecard']['id']}/initiatives"
    response = await client.get(url, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "as_of", ["2026-03-01", "2026-03-01T00:00:00", "1899-12-31T00:00:00Z", "1772323200", "x"]
)
async def test_hostile_summary_as_of(client, world, as_of):
    url = f"/v1/scorecards/{world['scorecard']['id']}/initiatives/summary"
    assert (await client.get(url, params={"as_of": as_of})).status_code == 422


async def test_bad_initiative_ids_are_422(client):
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {}} if method == "patch" else {}
        response = await getattr(client, method)("/v1/initiatives/not-a-uuid", **kwargs)
        assert response.status_code == 422


async def test_concurrent_status_changes_emit_one_event_per_change(client, world):
    """Editors are serialised on the initiative's row: five clients setting the same new status
    at once make one change, so one event; each event's previous_status is the status the
    change really replaced."""
    initiative = await create_initiative(client, world["scorecard"]["id"])
    url = f"/v1/initiatives/{initiative['id']}"
    answers = await asyncio.gather(
        *(client.patch(url, json={"status": "on_track"}) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [200] * 5
    answers = await asyncio.gather(
        client.patch(url, json={"status": "at_risk"}),
        client.patch(url, json={"status": "off_track"}),
    )
    assert [a.status_code for a in answers] == [200, 200]
    events = (await client.get("/v1/events", params={"type": "initiative.status_changed"})).json()[
        "items"
    ]
    chain = [(e["data"]["previous_status"], e["data"]["status"]) for e in events]
    assert chain[0] == ("planned", "on_track")
    assert len(chain) == 3
    assert chain[1][0] == "on_track" and chain[2][0] == chain[1][1]
    final = (await client.get(url)).json()
    assert final["status"] == chain[2][1] and final["version"] == 8
