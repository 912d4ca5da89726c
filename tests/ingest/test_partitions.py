"""Readings are partitioned by month (migration 0014): whatever partition a reading lands in,
an external_id is stored once per measure, a reading in a month without a partition still
lands, and a score reads only the partitions of the periods it asks for."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.readings import partitions
from app.scores.data import WINDOW_STATS_TEMPLATE
from tests.factories import create_measure, create_scorecard

BATCH = "/v1/readings/batch"
IMPORT = "/v1/readings/import"
STATEMENTS = "/xapi/statements"
XAPI = {"X-Experience-API-Version": "1.0.3"}
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"

# Months apart, and in different partitions: the history one (everything before the month the
# schema was partitioned in), and two months of their own, created on demand.
LONG_AGO = "2019-04-02T08:00:00Z"
LATER = "2031-02-10T08:00:00Z"
LATER_STILL = "2031-07-20T08:00:00Z"


@pytest.fixture
async def scorecard(client):
    return await create_scorecard(client)


@pytest.fixture
async def measure(client, scorecard):
    return await create_measure(client, scorecard["id"], key="completions", aggregation="sum")


async def stored(client, measure_id: str) -> list[dict]:
    response = await client.get(f"/v1/measures/{measure_id}/readings", params={"limit": 200})
    assert response.status_code == 200
    return response.json()["items"]


async def partition_of(sessionmaker, reading_id: str) -> str:
    async with sessionmaker() as session:
        return await session.scalar(
            text("SELECT tableoid::regclass::text FROM readings WHERE id = :id"),
            {"id": reading_id},
        )


async def test_a_single_reading_repeated_months_apart_is_one_reading(client, measure):
    url = f"/v1/measures/{measure['id']}/readings"
    first = await client.post(url, json={"value": 1, "observed_at": LONG_AGO, "external_id": "a"})
    assert first.status_code == 201
    # The same external_id, observed in another partition: other content, so a clash.
    clash = await client.post(url, json={"value": 1, "observed_at": LATER, "external_id": "a"})
    assert clash.status_code == 409
    assert first.json()["id"] in clash.json()["detail"]
    retry = await client.post(url, json={"value": 1, "observed_at": LONG_AGO, "external_id": "a"})
    assert (retry.status_code, retry.json()) == (200, first.json())
    # And the other way round: stored in a later month, repeated with a time long ago.
    later = await client.post(url, json={"value": 2, "observed_at": LATER, "external_id": "b"})
    assert later.status_code == 201
    back = await client.post(url, json={"value": 2, "observed_at": LONG_AGO, "external_id": "b"})
    assert back.status_code == 409
    assert sorted(r["external_id"] for r in await stored(client, measure["id"])) == ["a", "b"]


async def test_a_batch_finds_its_repeats_in_every_partition(client, measure):
    def item(value, observed_at, external_id):
        return {
            "measure_id": measure["id"],
            "value": value,
            "observed_at": observed_at,
            "external_id": external_id,
        }

    items = [item(1, LONG_AGO, "a"), item(2, LATER, "b"), item(3, LATER_STILL, "c")]
    response = await client.post(BATCH, json={"readings": items})
    assert response.json() == {"created": 3, "duplicates": 0}
    again = await client.post(BATCH, json={"readings": [*items, item(4, LATER, "d")]})
    assert again.json() == {"created": 1, "duplicates": 3}
    # "a" again, but observed months later: nothing of the batch is stored.
    moved = await client.post(
        BATCH, json={"readings": [item(1, LATER_STILL, "a"), item(5, LATER, "e")]}
    )
    assert moved.status_code == 409
    assert [e["loc"] for e in moved.json()["errors"]] == [["body", "readings", 0, "external_id"]]
    assert sorted(r["value"] for r in await stored(client, measure["id"])) == [1, 2, 3, 4]


async def test_a_csv_import_finds_its_repeats_in_every_partition(client, measure):
    csv = (
        "measure_id,value,observed_at,external_id\n"
        f"{measure['id']},1,{LONG_AGO},row-1\n"
        f"{measure['id']},2,{LATER_STILL},row-2\n"
    )
    headers = {"Content-Type": "text/csv"}
    assert (await client.post(IMPORT, content=csv, headers=headers)).json() == {
        "created": 2,
        "duplicates": 0,
    }
    assert (await client.post(IMPORT, content=csv, headers=headers)).json() == {
        "created": 0,
        "duplicates": 2,
    }
    swapped = csv.replace(f"1,{LONG_AGO}", f"1,{LATER}")
    assert (await client.post(IMPORT, content=swapped, headers=headers)).status_code == 409
    assert len(await stored(client, measure["id"])) == 2


async def test_xapi_statements_months_apart_are_stored_once_and_voiding_frees_the_key(
    client, scorecard
):
    client.headers.update(XAPI)
    measure = await create_measure(
        client, scorecard["id"], key="done", aggregation="count", xapi={"verb": COMPLETED}
    )

    def statement(statement_id: str, timestamp: str) -> dict:
        return {
            "id": statement_id,
            "actor": {"mbox": "mailto:ada@example.com"},
            "verb": {"id": COMPLETED},
            "object": {"id": "https://lms.example.com/course/1"},
            "timestamp": timestamp,
        }

    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    batch = [statement(old, LONG_AGO), statement(new, LATER_STILL)]
    assert (await client.post(STATEMENTS, json=batch)).status_code == 200
    assert (await client.post(STATEMENTS, json=batch)).status_code == 200  # resent: a no-op
    backfill = await client.post(f"/v1/measures/{measure['id']}/xapi/backfill")
    assert backfill.json()["duplicates"] == 2  # both readings found, whatever their month
    assert len(await stored(client, measure["id"])) == 2
    voiding = {
        "actor": {"mbox": "mailto:admin@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": old},
    }
    assert (await client.post(STATEMENTS, json=voiding)).status_code == 200
    assert [r["external_id"] for r in await stored(client, measure["id"])] == [new]


async def test_concurrent_batches_with_the_same_keys_in_many_months_store_them_once(
    client, measure, sessionmaker
):
    items = [
        {
            "measure_id": measure["id"],
            "value": i,
            "observed_at": f"20{31 + i % 3}-{1 + i % 12:02d}-03T10:00:00Z",
            "external_id": f"lms-{i}",
        }
        for i in range(600)
    ]
    outcomes = await asyncio.gather(
        *(client.post(BATCH, json={"readings": items}) for _ in range(3))
    )
    assert sorted(o.json()["created"] for o in outcomes) == [0, 0, 600]
    async with sessionmaker() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM readings WHERE measure_id = :id"), {"id": measure["id"]}
        )
        keys = await session.scalar(
            text("SELECT count(*) FROM reading_keys WHERE measure_id = :id"), {"id": measure["id"]}
        )
    assert (count, keys) == (600, 600)


async def test_a_reading_in_a_month_without_a_partition_lands_in_a_new_one(
    client, measure, sessionmaker
):
    url = f"/v1/measures/{measure['id']}/readings"
    far = await client.post(url, json={"value": 3, "observed_at": "2188-11-30T23:59:59Z"})
    assert far.status_code == 201, far.text
    assert await partition_of(sessionmaker, far.json()["id"]) == "readings_y2188m11"
    got = await client.get(f"/v1/readings/{far.json()['id']}")
    assert got.json()["value"] == 3
    assert (await client.delete(f"/v1/readings/{far.json()['id']}")).status_code == 204
    assert (await client.get(f"/v1/readings/{far.json()['id']}")).status_code == 404
    old = await client.post(url, json={"value": 4, "observed_at": "1901-01-01T00:00:00Z"})
    assert await partition_of(sessionmaker, old.json()["id"]) == "readings_history"


async def test_a_deleted_reading_frees_its_external_id_and_a_deleted_measure_its_keys(
    client, scorecard, measure, sessionmaker
):
    url = f"/v1/measures/{measure['id']}/readings"
    first = await client.post(url, json={"value": 1, "observed_at": LATER, "external_id": "k"})
    assert (await client.delete(f"/v1/readings/{first.json()['id']}")).status_code == 204
    again = await client.post(url, json={"value": 2, "observed_at": LONG_AGO, "external_id": "k"})
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    response = await client.delete(f"/v1/measures/{measure['id']}", params={"cascade": "true"})
    assert response.status_code == 204
    async with sessionmaker() as session:
        left = await session.scalar(text("SELECT count(*) FROM reading_keys"))
    assert left == 0


async def test_the_worker_creates_months_ahead_once_even_when_two_run_together(app):
    engine = app.state.engine
    now = datetime(2042, 12, 15, tzinfo=UTC)
    first, second = await asyncio.gather(
        partitions.create_ahead(engine, 3, now), partitions.create_ahead(engine, 3, now)
    )
    assert sorted(first + second) == ["readings_y2042m12", "readings_y2043m01", "readings_y2043m02"]
    assert await partitions.create_ahead(engine, 3, now) == []


def _scanned(plan: dict) -> dict[str, int]:
    """Relation → loops actually run, over every scan node of an EXPLAIN ANALYZE plan."""
    found: dict[str, int] = {}
    if "Relation Name" in plan:
        found[plan["Relation Name"]] = found.get(plan["Relation Name"], 0) + plan["Actual Loops"]
    for child in plan.get("Plans", ()):
        for name, loops in _scanned(child).items():
            found[name] = found.get(name, 0) + loops
    return found


async def test_a_window_reads_only_its_own_months_partitions(client, measure, app):
    url = f"/v1/measures/{measure['id']}/readings"
    for observed_at in (LONG_AGO, "2031-01-05T00:00:00Z", LATER, "2031-03-05T00:00:00Z"):
        assert (await client.post(url, json={"value": 1, "observed_at": observed_at})).is_success
    statement = "EXPLAIN (ANALYZE, FORMAT JSON) " + WINDOW_STATS_TEMPLATE.format(extra="", join="")
    # Not on day edges: the partial days at both ends are read from readings too.
    window = (datetime(2031, 2, 1, 6, tzinfo=UTC), datetime(2031, 2, 28, 18, tzinfo=UTC))
    async with app.state.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        raw = await driver.fetchval(
            statement,
            [uuid.UUID(measure["id"])],
            [window[0]],
            [window[1]],
            [True],
            [True],
            [True],
        )
    # The pool's json codec may have decoded the document already.
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scanned = {
        name
        for name, loops in _scanned(plan).items()
        if loops > 0 and name.startswith("readings_")  # not the rollups
    }
    # The aggregates (their partial days at both ends) and the subject count read February's
    # partition alone. The latest reading before the window's end is found there too
    # (partitions are read newest first); its tie-break on id peeks at the next older partition
    # that has rows (January) to see the instant change. March's, the history and every other
    # month are never read.
    assert scanned == {"readings_y2031m02", "readings_y2031m01"}


async def test_a_partition_dropped_behind_the_services_back_is_created_again(
    client, measure, sessionmaker
):
    url = f"/v1/measures/{measure['id']}/readings"
    first = await client.post(url, json={"value": 1, "observed_at": "2045-03-03T00:00:00Z"})
    assert first.status_code == 201
    async with sessionmaker() as session:
        await session.execute(
            text("DELETE FROM readings WHERE id = :id"), {"id": first.json()["id"]}
        )
        await session.execute(text("DROP TABLE readings_y2045m03"))
        await session.commit()
    # The service still believes March 2045 has its partition: the COPY finds out.
    again = await client.post(url, json={"value": 2, "observed_at": "2045-03-04T00:00:00Z"})
    assert again.status_code == 201, again.text
    assert await partition_of(sessionmaker, again.json()["id"]) == "readings_y2045m03"


async def test_a_deleted_scorecard_takes_its_readings_keys_along(
    client, scorecard, measure, sessionmaker
):
    url = f"/v1/measures/{measure['id']}/readings"
    await client.post(url, json={"value": 1, "observed_at": LATER, "external_id": "k"})
    response = await client.delete(f"/v1/scorecards/{scorecard['id']}", params={"cascade": "true"})
    assert response.status_code == 204
    async with sessionmaker() as session:
        left = await session.scalar(text("SELECT count(*) FROM reading_keys"))
    assert left == 0
