"""Due readings as the team sees them: GET /v1/readings/due lists every scheduled measure whose
last ended period has no reading, due until its due date and overdue after. Every expected
instant below is worked out by hand from the zone's rules."""

from __future__ import annotations

import pytest

from app.auth.keys import Scope
from tests.factories import create_measure, create_scorecard

DUE = "/v1/readings/due"


async def due(client, **params):
    response = await client.get(DUE, params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_monthly_reading_is_due_then_overdue_then_reported(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(
        client, scorecard["id"], key="completions", owner="Ada", due_after_days=5
    )
    assert measure["due_after_days"] == 5
    june = {"start": "2026-06-01T00:00:00Z", "end": "2026-07-01T00:00:00Z"}
    entry = {
        "measure_id": measure["id"],
        "measure_key": "completions",
        "scorecard_id": scorecard["id"],
        "owner": "Ada",
        "period": june,
        "due_at": "2026-07-06T00:00:00Z",
        "state": "due",
    }
    assert await due(client, as_of="2026-07-01T00:00:00Z") == [entry]
    assert await due(client, as_of="2026-07-05T23:59:59.999999Z") == [entry]
    assert await due(client, as_of="2026-07-06T00:00:00Z") == [entry | {"state": "overdue"}]
    # On the last instant of June the period has not ended: May is the last ended one.
    [may] = await due(client, as_of="2026-06-30T23:59:59.999999Z")
    assert may["period"] == {"start": "2026-05-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"}
    url = f"/v1/measures/{measure['id']}/readings"
    # A reading on July 1 is July's, not June's.
    await client.post(url, json={"value": 3, "observed_at": "2026-07-01T00:00:00Z"})
    assert len(await due(client, as_of="2026-07-10T00:00:00Z")) == 1
    await client.post(url, json={"value": 3, "observed_at": "2026-06-30T23:59:59.999999Z"})
    assert await due(client, as_of="2026-07-10T00:00:00Z") == []
    # In August, July is the last ended period: reported (the July 1 reading).
    assert await due(client, as_of="2026-08-20T00:00:00Z") == []
    # In September, August is owed and overdue since September 6.
    [august] = await due(client, as_of="2026-09-20T00:00:00Z")
    assert (august["period"]["start"], august["state"]) == ("2026-08-01T00:00:00Z", "overdue")


async def test_periods_and_due_dates_follow_the_scorecards_zone_across_dst(client):
    cases = [
        # (zone, cadence, due_after_days, as_of, period start, period end, due_at, state)
        # Berlin leaves summer time on 2026-10-25: October runs from 22:00Z to 23:00Z.
        (
            "Europe/Berlin",
            "month",
            0,
            "2026-11-01T12:00:00Z",
            "2026-09-30T22:00:00Z",
            "2026-10-31T23:00:00Z",
            "2026-10-31T23:00:00Z",
            "overdue",
        ),
        # New York springs forward on Sunday 2026-03-08: the week from Monday March 2 (EST)
        # ends on Monday March 9 (EDT); due Wednesday March 11 at local midnight.
        (
            "America/New_York",
            "week",
            2,
            "2026-03-10T12:00:00Z",
            "2026-03-02T05:00:00Z",
            "2026-03-09T04:00:00Z",
            "2026-03-11T04:00:00Z",
            "due",
        ),
        # Santiago skips midnight on 2026-09-06 (00:00 → 01:00): that day starts at 01:00
        # local (04:00Z) and lasts 23 hours.
        (
            "America/Santiago",
            "day",
            1,
            "2026-09-07T12:00:00Z",
            "2026-09-06T04:00:00Z",
            "2026-09-07T03:00:00Z",
            "2026-09-08T03:00:00Z",
            "due",
        ),
        # Havana falls back to midnight on 2026-11-01 (01:00 → 00:00): the day starts at the
        # first of its two midnights (04:00Z) and lasts 25 hours.
        (
            "America/Havana",
            "day",
            0,
            "2026-11-02T12:00:00Z",
            "2026-11-01T04:00:00Z",
            "2026-11-02T05:00:00Z",
            "2026-11-02T05:00:00Z",
            "overdue",
        ),
        # Kathmandu is UTC+05:45; the quarter before Q2 2026.
        (
            "Asia/Kathmandu",
            "quarter",
            10,
            "2026-04-05T00:00:00Z",
            "2025-12-31T18:15:00Z",
            "2026-03-31T18:15:00Z",
            "2026-04-10T18:15:00Z",
            "due",
        ),
        (
            "UTC",
            "year",
            366,
            "2027-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
            "2028-01-02T00:00:00Z",
            "due",
        ),
    ]
    for zone, cadence, days, as_of, start, end, due_at, state in cases:
        scorecard = await create_scorecard(client, timezone=zone)
        await create_measure(client, scorecard["id"], cadence=cadence, due_after_days=days)
        [entry] = await due(client, scorecard_id=scorecard["id"], as_of=as_of)
        assert (entry["period"], entry["due_at"], entry["state"]) == (
            {"start": start, "end": end},
            due_at,
            state,
        ), zone


async def test_filters_pages_and_who_is_listed(client):
    first = await create_scorecard(client)
    second = await create_scorecard(client)
    ada = await create_measure(client, first["id"], owner="Ada", due_after_days=3)
    bob = await create_measure(client, first["id"], owner="Bob", due_after_days=30)
    eve = await create_measure(client, second["id"], owner="Ada", due_after_days=0)
    await create_measure(client, first["id"], owner="Ada")  # no schedule: never listed
    await create_measure(
        client, first["id"], key="ratio", formula=f"{ada['key']} / {bob['key']}", owner="Ada"
    )
    as_of = {"as_of": "2026-07-10T00:00:00Z"}  # June ended; due July 4, July 31, July 1
    assert [e["measure_id"] for e in await due(client, **as_of)] == [
        ada["id"],
        bob["id"],
        eve["id"],
    ]
    assert [e["measure_id"] for e in await due(client, owner="Ada", **as_of)] == [
        ada["id"],
        eve["id"],
    ]
    assert [e["measure_id"] for e in await due(client, scorecard_id=first["id"], **as_of)] == [
        ada["id"],
        bob["id"],
    ]
    assert [e["measure_id"] for e in await due(client, state="due", **as_of)] == [bob["id"]]
    assert [e["measure_id"] for e in await due(client, state="overdue", owner="Ada", **as_of)] == [
        ada["id"],
        eve["id"],
    ]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **as_of} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(DUE, params=params)).json()
        seen += [e["measure_id"] for e in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [ada["id"], bob["id"], eve["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"state": "late"},
        {"as_of": "2026-07-10T00:00:00"},
        {"as_of": "1782864000"},
        {"as_of": "2200-01-01T00:00:00Z"},
        {"scorecard_id": "not-a-uuid"},
        {"owner": "x" * 201},
        {"owner": "Ada\x00"},
        {"cursor": "forged"},
        {"limit": 0},
        {"limit": 201},
    ],
)
async def test_bad_queries_are_422(client, params):
    response = await client.get(DUE, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_list_needs_a_read_key(anon, scoped_client):
    assert (await anon.get(DUE)).status_code == 401
    assert (await (await scoped_client(Scope.ingest)).get(DUE)).status_code == 403
    assert (await (await scoped_client(Scope.read)).get(DUE)).status_code == 200


@pytest.mark.parametrize("days", [-1, 367, 1.5, "5", True, 10**20, "NaN"])
async def test_hostile_due_after_days_are_refused(client, days):
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
            "due_after_days": days,
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "due_after_days"]


async def test_a_derived_measure_cannot_be_scheduled(client):
    scorecard = await create_scorecard(client)
    source = await create_measure(client, scorecard["id"], key="done")
    response = await client.post(
        f"/v1/scorecards/{scorecard['id']}/measures",
        json={
            "key": "ratio",
            "name": "Ratio",
            "perspective": "financial",
            "direction": "increase",
            "baseline": 0,
            "target": 100,
            "formula": "done * 2",
            "due_after_days": 5,
        },
    )
    assert response.status_code == 422
    derived = await create_measure(client, scorecard["id"], key="ratio", formula="done * 2")
    patched = await client.patch(f"/v1/measures/{derived['id']}", json={"due_after_days": 5})
    assert patched.status_code == 422
    assert patched.json()["errors"][0]["loc"] == ["body", "due_after_days"]
    scheduled = await client.patch(f"/v1/measures/{source['id']}", json={"due_after_days": 5})
    assert scheduled.status_code == 200
    assert scheduled.json()["due_after_days"] == 5
    became_derived = await client.patch(f"/v1/measures/{source['id']}", json={"formula": "2"})
    assert became_derived.status_code == 422


async def test_a_scorecard_with_a_zone_the_database_does_not_know_is_left_out(client, app):
    # A row the API would not write (it checks zones); it must not fail the list for others.
    from sqlalchemy import text

    good = await create_scorecard(client)
    bad = await create_scorecard(client)
    fine = await create_measure(client, good["id"], due_after_days=1)
    await create_measure(client, bad["id"], due_after_days=1)
    async with app.state.engine.begin() as connection:
        await connection.execute(
            text("UPDATE scorecards SET timezone = 'Not/AZone' WHERE id = :id"), {"id": bad["id"]}
        )
    listed = await due(client, as_of="2026-07-10T00:00:00Z")
    assert [e["measure_id"] for e in listed] == [fine["id"]]


@pytest.mark.parametrize(
    ("zone", "as_of", "start", "due_at"),
    [
        # The earliest accepted instant: Kiritimati (+14 today) kept local mean time, -10:29:20,
        # until 1901, so it is 1899-12-31 13:30:40 there: the last ended year is 1898, and its
        # reading is due 366 days after 1899-01-01, on 1900-01-02 (local midnights).
        (
            "Pacific/Kiritimati",
            "1900-01-01T00:00:00Z",
            "1898-01-01T10:29:20Z",
            "1900-01-02T10:29:20Z",
        ),
        # The last accepted instant, in UTC: 2199 has not ended, so 2198 is owed.
        ("UTC", "2199-12-31T23:59:59.999999Z", "2198-01-01T00:00:00Z", "2200-01-02T00:00:00Z"),
    ],
)
async def test_the_extremes_of_as_of_are_answered(client, zone, as_of, start, due_at):
    scorecard = await create_scorecard(client, timezone=zone)
    await create_measure(client, scorecard["id"], cadence="year", due_after_days=366)
    [entry] = await due(client, scorecard_id=scorecard["id"], as_of=as_of)
    assert (entry["period"]["start"], entry["due_at"], entry["state"]) == (start, due_at, "due")
