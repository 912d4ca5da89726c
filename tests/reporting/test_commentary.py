"""Commentary per measure and period: what a team writes about a red month, shown beside the
measure's score and history."""

from __future__ import annotations

import asyncio

import pytest

from app.auth.keys import Scope
from tests.factories import create_measure, create_scorecard

MARCH_BERLIN = "2026-02-28T23:00:00Z"  # 2026-03-01T00:00 in Europe/Berlin (CET, +01:00)
MARCH_END_BERLIN = "2026-03-31T22:00:00Z"  # April starts in CEST (+02:00): DST began 03-29


async def _berlin_measure(client, **fields):
    scorecard = await create_scorecard(client, timezone="Europe/Berlin", **fields)
    measure = await create_measure(client, scorecard["id"])
    return scorecard, measure


async def test_create_then_replace_versions_etags_and_author(client):
    _, measure = await _berlin_measure(client)
    url = f"/v1/measures/{measure['id']}/commentary/{MARCH_BERLIN}"

    created = await client.put(url, json={"analysis": "Two cohorts slipped.", "actions": None})
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == url
    assert created.headers["ETag"] == '"1"'
    body = created.json()
    assert body["measure_id"] == measure["id"]
    assert body["period"] == {"start": MARCH_BERLIN, "end": MARCH_END_BERLIN}
    assert body["analysis"] == "Two cohorts slipped."
    assert body["actions"] is None
    assert body["author"] == "test-admin"
    assert body["version"] == 1

    replaced = await client.put(
        url, json={"analysis": "Two cohorts slipped.", "actions": "Rerun in April."}
    )
    assert replaced.status_code == 200
    assert "Location" not in replaced.headers
    assert replaced.headers["ETag"] == '"2"'
    assert replaced.json()["version"] == 2
    assert replaced.json()["actions"] == "Rerun in April."
    assert replaced.json()["created_at"] == body["created_at"]

    fetched = await client.get(url)
    assert fetched.status_code == 200
    assert fetched.headers["ETag"] == '"2"'
    assert fetched.json() == replaced.json()


async def test_the_same_period_named_with_its_local_offset(client):
    _, measure = await _berlin_measure(client)
    base = f"/v1/measures/{measure['id']}/commentary"
    created = await client.put(f"{base}/2026-03-01T00:00:00+01:00", json={"analysis": "a"})
    assert created.status_code == 201
    again = await client.get(f"{base}/{MARCH_BERLIN}")
    assert again.status_code == 200
    assert again.json()["period"]["start"] == MARCH_BERLIN


@pytest.mark.parametrize(
    "start",
    [
        "2026-03-01T00:00:00Z",  # midnight in UTC, 01:00 in Berlin: not a Berlin month start
        "2026-03-02T00:00:00+01:00",  # a day inside March
        "2026-03-01T00:00:00.000001+01:00",
    ],
)
async def test_an_instant_that_starts_no_period_is_refused(client, start):
    _, measure = await _berlin_measure(client)
    response = await client.put(
        f"/v1/measures/{measure['id']}/commentary/{start}", json={"analysis": "x"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["path", "period_start"]
    assert "2026-02-28T23:00:00Z" in response.json()["errors"][0]["message"]


async def test_period_starts_follow_dst_and_the_cadence(client):
    scorecard = await create_scorecard(client, timezone="America/New_York")
    day = await create_measure(client, scorecard["id"], cadence="day")
    week = await create_measure(client, scorecard["id"], cadence="week")
    # 2026-03-08 is the day New York springs forward: it starts at 05:00Z (EST, -05:00) and
    # the next day at 04:00Z (EDT, -04:00), a 23-hour day.
    ok = await client.put(
        f"/v1/measures/{day['id']}/commentary/2026-03-08T05:00:00Z", json={"analysis": "a"}
    )
    assert ok.status_code == 201
    assert ok.json()["period"] == {"start": "2026-03-08T05:00:00Z", "end": "2026-03-09T04:00:00Z"}
    nxt = await client.put(
        f"/v1/measures/{day['id']}/commentary/2026-03-09T04:00:00Z", json={"analysis": "b"}
    )
    assert nxt.status_code == 201
    wrong = await client.put(
        f"/v1/measures/{day['id']}/commentary/2026-03-09T05:00:00Z", json={"analysis": "c"}
    )
    assert wrong.status_code == 422
    # Weeks start on Monday: 2026-03-09 is one, 2026-03-08 (a Sunday) is not.
    monday = await client.put(
        f"/v1/measures/{week['id']}/commentary/2026-03-09T00:00:00-04:00", json={"actions": "x"}
    )
    assert monday.status_code == 201
    assert monday.json()["period"]["end"] == "2026-03-16T04:00:00Z"
    sunday = await client.put(
        f"/v1/measures/{week['id']}/commentary/2026-03-08T05:00:00Z", json={"actions": "x"}
    )
    assert sunday.status_code == 422


async def test_if_match(client):
    _, measure = await _berlin_measure(client)
    url = f"/v1/measures/{measure['id']}/commentary/{MARCH_BERLIN}"
    # Nothing to match yet.
    assert (await client.put(url, json={}, headers={"If-Match": '"1"'})).status_code == 412
    assert (await client.put(url, json={"analysis": "a"})).status_code == 201
    stale = await client.put(url, json={"analysis": "b"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    ok = await client.put(url, json={"analysis": "b"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    assert (await client.delete(url, headers={"If-Match": '"1"'})).status_code == 412
    assert (await client.delete(url, headers={"If-Match": '"2"'})).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url)).status_code == 404


async def test_list_by_period_oldest_first_paginated(client):
    _, measure = await _berlin_measure(client)
    base = f"/v1/measures/{measure['id']}/commentary"
    starts = ["2026-01-01T00:00:00+01:00", "2026-02-01T00:00:00+01:00", MARCH_BERLIN]
    for start in reversed(starts):
        assert (await client.put(f"{base}/{start}", json={"analysis": start})).status_code == 201
    first = (await client.get(base, params={"limit": 2})).json()
    assert [c["period"]["start"] for c in first["items"]] == [
        "2025-12-31T23:00:00Z",
        "2026-01-31T23:00:00Z",
    ]
    second = (await client.get(base, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [c["period"]["start"] for c in second["items"]] == [MARCH_BERLIN]
    assert second["next_cursor"] is None
    ranged = (
        await client.get(base, params={"from": "2026-01-31T23:00:00Z", "to": MARCH_BERLIN})
    ).json()
    assert [c["analysis"] for c in ranged["items"]] == ["2026-02-01T00:00:00+01:00"]


async def test_scopes_and_missing_measure(client, scoped_client):
    _, measure = await _berlin_measure(client)
    url = f"/v1/measures/{measure['id']}/commentary/{MARCH_BERLIN}"
    reader = await scoped_client(Scope.read)
    ingester = await scoped_client(Scope.ingest)
    writer = await scoped_client(Scope.write)
    assert (await reader.put(url, json={"analysis": "a"})).status_code == 403
    assert (await ingester.put(url, json={"analysis": "a"})).status_code == 403
    written = await writer.put(url, json={"analysis": "a"})
    assert written.status_code == 201
    assert written.json()["author"] == "test-write"
    assert (await reader.get(url)).status_code == 200
    assert (await reader.delete(url)).status_code == 403
    gone = "/v1/measures/01900000-0000-7000-8000-000000000000/commentary"
    assert (await client.put(f"{gone}/{MARCH_BERLIN}", json={})).status_code == 404
    assert (await client.get(gone)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"analysis": 5},
        {"analysis": True},
        {"actions": ["a"]},
        {"analysis": "x" * 10_001},
        {"actions": "bell\x07"},
        {"analysis": "nul\x00"},
        {"analysis": "a", "author": "me"},
        {"analysis": "NaN", "extra": 1},
    ],
)
async def test_hostile_bodies(client, body):
    _, measure = await _berlin_measure(client)
    url = f"/v1/measures/{measure['id']}/commentary/{MARCH_BERLIN}"
    response = await client.put(url, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_text_at_the_limit_with_newlines_and_tabs_is_kept(client):
    _, measure = await _berlin_measure(client)
    url = f"/v1/measures/{measure['id']}/commentary/{MARCH_BERLIN}"
    text = ("line\tone\r\n" * 1000)[:10_000]
    response = await client.put(url, json={"analysis": text, "actions": "NaN"})
    assert response.status_code == 201
    assert response.json()["analysis"] == text
    assert response.json()["actions"] == "NaN"


@pytest.mark.parametrize(
    "start",
    [
        "2026-03-01T00:00:00",  # no offset
        "1700000000",
        "2026-13-01T00:00:00Z",
        "1899-12-01T00:00:00Z",
        "2200-01-01T00:00:00Z",
        "yesterday",
        "2026-03-01T00:00:00Z%00",
    ],
)
async def test_hostile_period_starts(client, start):
    _, measure = await _berlin_measure(client)
    response = await client.put(
        f"/v1/measures/{measure['id']}/commentary/{start}", json={"analysis": "x"}
    )
    assert response.status_code == 422, response.text


async def test_hostile_list_filters(client):
    _, measure = await _berlin_measure(client)
    base = f"/v1/measures/{measure['id']}/commentary"
    for params in (
        {"from": "2026-01-01"},
        {"to": "1e9"},
        {"limit": 0},
        {"limit": 201},
        {"cursor": "not-ours"},
    ):
        assert (await client.get(base, params=params)).status_code == 422, params
    assert (await client.get("/v1/measures/not-a-uuid/commentary")).status_code == 422


async def test_concurrent_writers_of_one_period_serialise(client):
    _, measure = await _berlin_measure(client)
    url = f"/v1/measures/{measure['id']}/commentary/{MARCH_BERLIN}"
    responses = await asyncio.gather(
        *(client.put(url, json={"analysis": f"writer {i}"}) for i in range(6))
    )
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert sorted(r.json()["version"] for r in responses) == [1, 2, 3, 4, 5, 6]
    final = (await client.get(url)).json()
    assert final["version"] == 6
    assert final["analysis"] == next(
        r.json()["analysis"] for r in responses if r.json()["version"] == 6
    )
    audit = (await client.get("/v1/audit", params={"resource_id": measure["id"]})).json()
    assert [e["action"] for e in audit["items"]].count("commentary.created") == 1
    assert [e["action"] for e in audit["items"]].count("commentary.updated") == 5
