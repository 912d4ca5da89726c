"""Locked periods: once a scorecard's `locked_before` passes a reading's time, that reading can
no longer be created or deleted, by any route; reopening needs an admin."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from app.auth.keys import Scope
from tests.factories import create_measure, create_scorecard

LOCK = "2026-07-01T00:00:00Z"
BEFORE = "2026-06-30T23:59:59.999999Z"
AT = "2026-07-01T00:00:00Z"
V = {"X-Experience-API-Version": "1.0.3"}
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"


@pytest.fixture
async def measure(client):
    scorecard = await create_scorecard(client, locked_before=LOCK)
    assert scorecard["locked_before"] == LOCK
    return await create_measure(client, scorecard["id"], key="completions")


async def readings_of(client, measure):
    response = await client.get(f"/v1/measures/{measure['id']}/readings")
    return [(r["value"], r["observed_at"]) for r in response.json()["items"]]


async def test_a_reading_before_the_lock_is_refused_and_one_at_it_is_taken(client, measure):
    url = f"/v1/measures/{measure['id']}/readings"
    refused = await client.post(url, json={"value": 1, "observed_at": BEFORE})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert LOCK in refused.json()["detail"]
    taken = await client.post(url, json={"value": 2, "observed_at": AT})
    assert taken.status_code == 201
    assert await readings_of(client, measure) == [(2, AT)]


async def test_a_reading_cannot_be_deleted_once_its_period_is_locked(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"])
    url = f"/v1/measures/{measure['id']}/readings"
    early = (await client.post(url, json={"value": 1, "observed_at": BEFORE})).json()
    late = (await client.post(url, json={"value": 2, "observed_at": AT})).json()
    locked = await client.patch(f"/v1/scorecards/{scorecard['id']}", json={"locked_before": LOCK})
    assert locked.status_code == 200
    assert (await client.delete(f"/v1/readings/{early['id']}")).status_code == 409
    assert (await client.delete(f"/v1/readings/{late['id']}")).status_code == 204
    assert await readings_of(client, measure) == [(1, "2026-06-30T23:59:59.999999Z")]


async def test_a_batch_names_every_locked_item_and_stores_nothing(client, measure):
    batch = {
        "readings": [
            {"measure_id": measure["id"], "value": 1, "observed_at": AT},
            {"measure_id": measure["id"], "value": 2, "observed_at": BEFORE},
            {"measure_id": measure["id"], "value": 3, "observed_at": "2026-07-02T00:00:00Z"},
            {"measure_id": measure["id"], "value": 4, "observed_at": "2025-01-01T00:00:00Z"},
        ]
    }
    response = await client.post("/v1/readings/batch", json=batch)
    assert response.status_code == 409
    assert [e["loc"] for e in response.json()["errors"]] == [
        ["body", "readings", 1, "observed_at"],
        ["body", "readings", 3, "observed_at"],
    ]
    assert await readings_of(client, measure) == []


async def test_a_csv_import_names_every_locked_line_and_stores_nothing(client, measure):
    csv = (
        "measure_id,value,observed_at\n"
        f"{measure['id']},1,2026-06-15T00:00:00+02:00\n"
        f"{measure['id']},2,2026-07-15T00:00:00Z\n"
        f"{measure['id']},3,2026-07-01T01:59:59+02:00\n"  # 23:59:59Z on June 30
    )
    response = await client.post(
        "/v1/readings/import", content=csv, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 409
    assert [e["loc"] for e in response.json()["errors"]] == [
        ["body", "line", 2, "observed_at"],
        ["body", "line", 4, "observed_at"],
    ]
    assert await readings_of(client, measure) == []


async def test_an_xapi_statement_in_a_locked_period_is_kept_but_makes_no_reading(client):
    scorecard = await create_scorecard(client, locked_before=LOCK)
    measure = await create_measure(
        client, scorecard["id"], aggregation="count", xapi={"verb": COMPLETED}
    )
    statement = {
        "actor": {"mbox": "mailto:ada@example.com"},
        "verb": {"id": COMPLETED},
        "object": {"id": "https://lms.example.com/course/1"},
    }
    client.headers.update(V)
    posted = await client.post(
        "/xapi/statements",
        json=[{**statement, "timestamp": BEFORE}, {**statement, "timestamp": AT}],
    )
    assert posted.status_code == 200, posted.text
    old, _ = posted.json()
    kept = await client.get("/xapi/statements", params={"statementId": old})
    assert kept.status_code == 200
    assert await readings_of(client, measure) == [(1, AT)]
    # Backfill finds both again: the one in the locked period is skipped, the other is known.
    backfill = await client.post(f"/v1/measures/{measure['id']}/xapi/backfill")
    assert backfill.json() == {"created": 0, "duplicates": 1, "skipped": 1}


async def test_moving_the_lock_later_needs_write_and_earlier_or_away_needs_admin(
    client, scoped_client
):
    scorecard = await create_scorecard(client, locked_before=LOCK)
    url = f"/v1/scorecards/{scorecard['id']}"
    writer = await scoped_client(Scope.write)
    later = await writer.patch(url, json={"locked_before": "2026-08-01T00:00:00+02:00"})
    assert later.status_code == 200
    assert later.json()["locked_before"] == "2026-07-31T22:00:00Z"
    same = await writer.patch(url, json={"locked_before": "2026-07-31T22:00:00Z"})
    assert same.status_code == 200
    for reopened in (LOCK, None):
        response = await writer.patch(url, json={"locked_before": reopened})
        assert response.status_code == 403, reopened
        assert response.json()["status"] == 403
    assert (await writer.get(url)).json()["locked_before"] == "2026-07-31T22:00:00Z"
    assert (await client.patch(url, json={"locked_before": LOCK})).status_code == 200
    cleared = await client.patch(url, json={"locked_before": None})
    assert cleared.json()["locked_before"] is None
    # Nothing locked: a writer may set a lock again.
    assert (await writer.patch(url, json={"locked_before": LOCK})).status_code == 200
    assert (await (await scoped_client(Scope.ingest)).patch(url, json={})).status_code == 403


@pytest.mark.parametrize(
    "value",
    [
        "2026-07-01T00:00:00",
        1782864000,
        "1899-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        "yesterday",
        "2026-02-30T00:00:00Z",
        True,
        {"at": LOCK},
        "2026-07-01T00:00:00Z\x00",
    ],
)
async def test_hostile_lock_values_are_refused(client, value):
    scorecard = await create_scorecard(client)
    url = f"/v1/scorecards/{scorecard['id']}"
    response = await client.patch(url, json={"locked_before": value})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "locked_before"]
    created = await client.post("/v1/scorecards", json={"name": "x", "locked_before": value})
    assert created.status_code == 422


async def _waiting_for_locks(app, count):
    """Until `count` other sessions wait for a row lock (bounded: fails rather than hangs)."""
    for _ in range(500):
        async with app.state.engine.connect() as connection:
            waiting = await connection.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            )
        if waiting >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} sessions waiting for a lock, saw {waiting}")


async def test_a_writer_that_waited_for_the_lock_move_sees_the_new_lock(app, client):
    # A third transaction holds the measure; the lock move queues behind it, then a reading
    # in the period being closed. The lock move commits first: the reading must be refused,
    # though its statement started before the move committed.
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"])
    async with app.state.engine.connect() as holder:
        await holder.execute(
            text("SELECT 1 FROM measures WHERE id = :id FOR NO KEY UPDATE"), {"id": measure["id"]}
        )
        move = asyncio.create_task(
            client.patch(f"/v1/scorecards/{scorecard['id']}", json={"locked_before": LOCK})
        )
        await _waiting_for_locks(app, 1)
        post = asyncio.create_task(
            client.post(
                f"/v1/measures/{measure['id']}/readings",
                json={"value": 1, "observed_at": BEFORE},
            )
        )
        await _waiting_for_locks(app, 2)
        await holder.commit()
    assert (await move).status_code == 200
    assert (await post).status_code == 409
    assert await readings_of(client, measure) == []
