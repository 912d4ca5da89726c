"""Crossing detection: statuses follow readings, and every change is one event in one chain."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from tests.e2e.server import running_server
from tests.factories import create_measure, create_scorecard


async def crossing_events(app, measure_id):
    async with app.state.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT data FROM events WHERE type = 'measure.threshold_crossed'"
                " AND data->>'measure_id' = :id ORDER BY id"
            ),
            {"id": measure_id},
        )
        return [row.data for row in rows]


async def test_a_crossing_records_one_event_with_the_spec_payload(client, app):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], key="nps", baseline=0, target=50)
    url = f"/v1/measures/{measure['id']}/readings"
    now = datetime.now(UTC)
    await client.post(url, json={"value": 48, "observed_at": now.isoformat()})
    await client.post(url, json={"value": 49, "observed_at": now.isoformat()})  # still green
    [event] = await crossing_events(app, measure["id"])
    assert event == {
        "scorecard_id": scorecard["id"],
        "measure_id": measure["id"],
        "measure_key": "nps",
        "previous_status": "no_data",
        "status": "green",
        "value": 48,
        "score": 96,
        "thresholds": {"green": 90, "amber": 70},
        "as_of": event["as_of"],
    }
    assert datetime.fromisoformat(event["as_of"]) >= now


async def test_concurrent_writers_leave_an_unbroken_chain(client, app):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], baseline=0, target=100)
    url = f"/v1/measures/{measure['id']}/readings"
    start = datetime.now(UTC) - timedelta(minutes=5)

    async def post(i):
        value = 95 if i % 2 else 10  # green, red, green, …
        response = await client.post(
            url, json={"value": value, "observed_at": (start + timedelta(seconds=i)).isoformat()}
        )
        assert response.status_code == 201

    await asyncio.gather(*(post(i) for i in range(40)))
    events = await crossing_events(app, measure["id"])
    assert events, "no crossing recorded"
    assert events[0]["previous_status"] == "no_data"
    for before, after in itertools.pairwise(events):
        assert after["previous_status"] == before["status"]
        assert after["status"] != after["previous_status"]
    current = (await client.get(f"/v1/measures/{measure['id']}")).json()["status"]
    assert events[-1]["status"] == current
    # The latest observation (i = 39, value 95) decides the final status.
    assert current == "green"


async def test_derived_measures_cross_with_their_inputs(client, app):
    scorecard = await create_scorecard(client)
    done = await create_measure(client, scorecard["id"], key="done", aggregation="sum")
    enrolled = await create_measure(client, scorecard["id"], key="enrolled", aggregation="sum")
    rate = await create_measure(
        client, scorecard["id"], key="rate", formula="done / enrolled * 100", baseline=0, target=100
    )
    now = datetime.now(UTC).isoformat()
    await client.post(
        f"/v1/measures/{enrolled['id']}/readings", json={"value": 10, "observed_at": now}
    )
    await client.post(
        f"/v1/measures/{done['id']}/readings", json={"value": 5, "observed_at": now}
    )  # rate 50 % → red
    await client.post(
        f"/v1/measures/{done['id']}/readings", json={"value": 4, "observed_at": now}
    )  # rate 90 % → green
    statuses = [(e["previous_status"], e["status"]) for e in await crossing_events(app, rate["id"])]
    assert statuses == [("no_data", "red"), ("red", "green")]
    assert (await client.get(f"/v1/measures/{rate['id']}")).json()["status"] == "green"


async def test_the_sweeper_records_crossings_that_time_makes(client, app, sessionmaker):
    from app.thresholds.sweeper import sweep

    scorecard = await create_scorecard(client)
    measure = await create_measure(
        client, scorecard["id"], aggregation="sum", baseline=0, target=10, cadence="day"
    )
    now = datetime.now(UTC)
    await client.post(
        f"/v1/measures/{measure['id']}/readings", json={"value": 10, "observed_at": now.isoformat()}
    )
    assert (await client.get(f"/v1/measures/{measure['id']}")).json()["status"] == "green"
    assert await sweep(sessionmaker, now) == 0  # nothing moved yet
    # Two days on, today's sum is 0: the measure turned red without any write.
    assert await sweep(sessionmaker, now + timedelta(days=2)) == 1
    events = await crossing_events(app, measure["id"])
    # A sum over no readings is 0, so the new measure started red.
    assert [(e["previous_status"], e["status"]) for e in events] == [
        ("no_data", "red"),
        ("red", "green"),
        ("green", "red"),
    ]
    assert (await client.get(f"/v1/measures/{measure['id']}")).json()["status"] == "red"
    assert await sweep(sessionmaker, now + timedelta(days=2)) == 0  # idempotent


async def test_statuses_stay_exact_when_processes_take_turns_writing(client, app, clean_db):
    # Each process carries a window's statistics forward from its own writes; a write from the
    # other process must make it rescan, or the sum (and so the status) would be wrong.
    scorecard = await create_scorecard(client)
    measure = await create_measure(
        client, scorecard["id"], aggregation="sum", baseline=0, target=100
    )
    url = f"/v1/measures/{measure['id']}/readings"
    headers = {"Authorization": client.headers["Authorization"]}
    now = datetime.now(UTC)
    with (
        running_server(clean_db, "--no-worker") as (base_url, _),
        httpx.Client(base_url=base_url, headers=headers) as other,
    ):
        for i, value in enumerate([30, 40, 25, -60, 50, 10, -45, 30]):
            body = {"value": value, "observed_at": (now - timedelta(seconds=i)).isoformat()}
            if i % 3 == 2:
                assert other.post(url, json=body).status_code == 201
            else:
                assert (await client.post(url, json=body)).status_code == 201
            stored = (await client.get(f"/v1/measures/{measure['id']}")).json()["status"]
            score = (await client.get(f"/v1/measures/{measure['id']}/score")).json()
            assert stored == score["status"], (i, stored, score)
    events = await crossing_events(app, measure["id"])
    assert len(events) >= 3
    assert events[-1]["status"] == stored
