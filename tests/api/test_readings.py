"""Readings: create, idempotent retries, listing with time filters."""

from __future__ import annotations

import pytest

from tests.factories import create_measure, create_scorecard


@pytest.fixture
async def measure(client):
    scorecard = await create_scorecard(client)
    return await create_measure(client, scorecard["id"])


async def test_create_get_and_delete(client, measure):
    url = f"/v1/measures/{measure['id']}/readings"
    response = await client.post(
        url,
        json={
            "value": 42.5,
            "observed_at": "2026-03-01T09:00:00+01:00",
            "source": "manual",
            "note": "Q1 cohort",
        },
    )
    assert response.status_code == 201
    reading = response.json()
    assert response.headers["location"] == f"/v1/readings/{reading['id']}"
    assert reading["value"] == 42.5
    assert reading["observed_at"] in ("2026-03-01T08:00:00Z", "2026-03-01T08:00:00+00:00")
    assert (await client.get(f"/v1/readings/{reading['id']}")).json() == reading
    assert (await client.delete(f"/v1/readings/{reading['id']}")).status_code == 204
    assert (await client.get(f"/v1/readings/{reading['id']}")).status_code == 404


@pytest.mark.parametrize(
    "bad",
    [
        {"value": 1, "observed_at": "2026-03-01T09:00:00"},  # no offset
        {"value": 1, "observed_at": "yesterday"},
        {"value": "lots", "observed_at": "2026-03-01T09:00:00Z"},
        {"observed_at": "2026-03-01T09:00:00Z"},
        {"value": 1, "observed_at": "2026-03-01T09:00:00Z", "extra": True},
    ],
)
async def test_bad_readings_are_422(client, measure, bad):
    response = await client.post(f"/v1/measures/{measure['id']}/readings", json=bad)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_external_id_makes_retries_idempotent(client, measure):
    url = f"/v1/measures/{measure['id']}/readings"
    body = {"value": 7, "observed_at": "2026-03-01T00:00:00Z", "external_id": "lms-123"}
    first = await client.post(url, json=body)
    assert first.status_code == 201
    retry = await client.post(url, json=body)
    assert retry.status_code == 200
    assert retry.json() == first.json()
    clash = await client.post(url, json={**body, "value": 8})
    assert clash.status_code == 409
    assert first.json()["id"] in clash.json()["detail"]
    listed = (await client.get(url)).json()["items"]
    assert [r["value"] for r in listed] == [7]


async def test_list_is_newest_first_with_from_to_and_cursor(client, measure):
    url = f"/v1/measures/{measure['id']}/readings"
    for day in range(1, 8):
        await client.post(url, json={"value": day, "observed_at": f"2026-03-0{day}T12:00:00Z"})
    everything = (await client.get(url)).json()["items"]
    assert [r["value"] for r in everything] == [7, 6, 5, 4, 3, 2, 1]
    window = (
        await client.get(url, params={"from": "2026-03-02T12:00:00Z", "to": "2026-03-05T12:00:00Z"})
    ).json()["items"]
    assert [r["value"] for r in window] == [4, 3, 2]  # from inclusive, to exclusive
    page = (await client.get(url, params={"limit": 3})).json()
    rest = (await client.get(url, params={"limit": 10, "cursor": page["next_cursor"]})).json()
    assert [r["value"] for r in page["items"] + rest["items"]] == [7, 6, 5, 4, 3, 2, 1]
    naive = await client.get(url, params={"from": "2026-03-02T12:00:00"})
    assert naive.status_code == 422


async def test_unknown_measure_is_404(client):
    response = await client.post(
        "/v1/measures/00000000-0000-7000-8000-000000000000/readings",
        json={"value": 1, "observed_at": "2026-03-01T00:00:00Z"},
    )
    assert response.status_code == 404
