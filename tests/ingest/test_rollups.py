"""Reading rollups (per measure and UTC day) stay exactly what the readings add up to, whichever
way readings come and go: single posts, batches, CSV, xAPI statements and their voiding,
deletes, concurrent writers; a measure's rollups go with it; `scorecard rollups rebuild`
repairs them from the readings."""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from app.readings.service import NewReading, record_readings
from tests.e2e.server import scorecard_cli
from tests.factories import create_measure, create_scorecard

# What the rollups must hold: the readings grouped by measure and UTC day.
_FROM_READINGS = """
SELECT measure_id, date_trunc('day', observed_at AT TIME ZONE 'UTC') AS day,
       count(*) AS n, sum(value) AS total, min(value) AS minimum, max(value) AS maximum
FROM readings WHERE measure_id = ANY($1::uuid[]) GROUP BY 1, 2
"""
_ROLLUPS = """
SELECT measure_id, bucket_start AT TIME ZONE 'UTC' AS day, n, total, minimum, maximum
FROM reading_rollups WHERE measure_id = ANY($1::uuid[])
"""


async def rollups_and_readings(app: Any, measure_ids: list[Any]) -> tuple[dict, dict]:
    ids = [uuid.UUID(str(i)) for i in measure_ids]
    async with app.state.read_pool.acquire() as connection:
        rolled = {(r["measure_id"], r["day"]): r for r in await connection.fetch(_ROLLUPS, ids)}
        summed = {
            (r["measure_id"], r["day"]): r for r in await connection.fetch(_FROM_READINGS, ids)
        }
    return rolled, summed


async def assert_rollups_match_readings(app: Any, measure_ids: list[Any]) -> int:
    """Every day with readings has its rollup, with the same count, minimum and maximum, and
    the same sum up to rounding (added in another order); no day without readings has one.
    Returns the number of days."""
    rolled, summed = await rollups_and_readings(app, measure_ids)
    assert rolled.keys() == summed.keys()
    for key, expected in summed.items():
        actual = rolled[key]
        assert (actual["n"], actual["minimum"], actual["maximum"]) == (
            expected["n"],
            expected["minimum"],
            expected["maximum"],
        )
        assert math.isclose(actual["total"], expected["total"], rel_tol=1e-12, abs_tol=1e-9)
    return len(summed)


def at(day: int, hour: int = 9, minute: int = 0) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00Z"


async def test_every_write_path_keeps_the_rollups(client, app):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], key="hours", aggregation="sum")
    mid = measure["id"]
    single = await client.post(
        f"/v1/measures/{mid}/readings", json={"value": 5, "observed_at": at(1, 23, 59)}
    )
    assert single.status_code == 201, single.text
    batch = [{"measure_id": mid, "value": v, "observed_at": at(2, v)} for v in range(1, 11)]
    response = await client.post("/v1/readings/batch", json={"readings": batch})
    assert response.status_code == 200, response.text
    csv = f"measure_id,value,observed_at\n{mid},-3,{at(2, 0)}\n{mid},40,{at(3)}\n"
    response = await client.post(
        "/v1/readings/import", content=csv, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert await assert_rollups_match_readings(app, [mid]) == 3

    # Deleting the day's minimum and maximum: the day is summed again, not just decremented.
    readings = (await client.get(f"/v1/measures/{mid}/readings", params={"limit": 200})).json()
    on_day_2 = [r for r in readings["items"] if r["observed_at"].startswith("2026-03-02")]
    lowest = min(on_day_2, key=lambda r: r["value"])
    highest = max(on_day_2, key=lambda r: r["value"])
    for reading in (lowest, highest):
        assert (await client.delete(f"/v1/readings/{reading['id']}")).status_code == 204
    assert await assert_rollups_match_readings(app, [mid]) == 3
    rolled, _ = await rollups_and_readings(app, [mid])
    day_2 = rolled[(uuid.UUID(mid), datetime(2026, 3, 2))]
    assert (day_2["n"], day_2["minimum"], day_2["maximum"]) == (9, 1, 9)

    # The last reading of a day gone: so is the day's rollup.
    [only] = [r for r in readings["items"] if r["observed_at"].startswith("2026-03-03")]
    assert (await client.delete(f"/v1/readings/{only['id']}")).status_code == 204
    assert await assert_rollups_match_readings(app, [mid]) == 2


async def test_xapi_statements_and_their_voiding_keep_the_rollups(client, app):
    client.headers["X-Experience-API-Version"] = "1.0.3"
    scorecard = await create_scorecard(client)
    completed = "http://adlnet.gov/expapi/verbs/completed"
    measure = await create_measure(
        client, scorecard["id"], aggregation="count", xapi={"verb": completed}
    )

    def statement(learner: str, when: str) -> dict[str, Any]:
        return {
            "actor": {"mbox": f"mailto:{learner}@example.com"},
            "verb": {"id": completed},
            "object": {"id": "https://lms.example.com/course/1", "objectType": "Activity"},
            "timestamp": when,
        }

    response = await client.post(
        "/xapi/statements",
        json=[statement(name, at(4, hour)) for hour, name in enumerate(["ada", "bob", "cy"], 8)],
    )
    assert response.status_code == 200, response.text
    first, *_ = response.json()
    assert await assert_rollups_match_readings(app, [measure["id"]]) == 1
    voiding = {
        "actor": {"mbox": "mailto:admin@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": first},
    }
    assert (await client.post("/xapi/statements", json=voiding)).status_code == 200
    assert await assert_rollups_match_readings(app, [measure["id"]]) == 1
    rolled, _ = await rollups_and_readings(app, [measure["id"]])
    assert [row["n"] for row in rolled.values()] == [2]


async def test_a_deleted_measure_takes_its_rollups_along(client, app):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], aggregation="sum")
    response = await client.post(
        f"/v1/measures/{measure['id']}/readings", json={"value": 1, "observed_at": at(5)}
    )
    assert response.status_code == 201
    assert await assert_rollups_match_readings(app, [measure["id"]]) == 1
    deleted = await client.delete(f"/v1/measures/{measure['id']}", params={"cascade": "true"})
    assert deleted.status_code == 204
    rolled, _ = await rollups_and_readings(app, [measure["id"]])
    assert rolled == {}


async def test_concurrent_batches_on_one_measure_end_exact(client, app, sessionmaker):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], aggregation="sum")
    measure_id = uuid.UUID(measure["id"])
    start = datetime(2026, 3, 6, tzinfo=UTC)

    async def write(offset: int) -> None:
        # Every writer hits the same few days, so their upserts meet on the same rows.
        batch = [
            NewReading(measure_id, float(offset * 100 + i), start + timedelta(hours=7 * i + offset))
            for i in range(40)
        ]
        async with sessionmaker() as session:
            result = await record_readings(session, batch)
            assert result.created == 40
            await session.commit()

    await asyncio.gather(*(write(offset) for offset in range(6)))
    assert await assert_rollups_match_readings(app, [measure_id]) == 12
    rolled, _ = await rollups_and_readings(app, [measure_id])
    assert sum(row["n"] for row in rolled.values()) == 240


async def test_the_rebuild_command_repairs_rollups(client, app, database_url):
    scorecard = await create_scorecard(client)
    measures = [await create_measure(client, scorecard["id"], aggregation="sum") for _ in range(2)]
    for measure in measures:
        items = [
            {"measure_id": measure["id"], "value": day, "observed_at": at(day)} for day in (1, 2, 3)
        ]
        assert (
            await client.post("/v1/readings/batch", json={"readings": items})
        ).status_code == 200
    ids = [m["id"] for m in measures]
    async with app.state.read_pool.acquire() as connection:  # damage behind the service's back
        await connection.execute("UPDATE reading_rollups SET n = n + 7, total = -1")
        await connection.execute(
            "DELETE FROM reading_rollups WHERE bucket_start = '2026-03-02 00:00+00'"
        )

    one = scorecard_cli(
        "rollups", "rebuild", "--measure", measures[0]["id"], env={"DATABASE_URL": database_url}
    )
    assert one.returncode == 0, one.stderr
    assert "1/1 measures" in one.stderr
    assert await assert_rollups_match_readings(app, ids[:1]) == 3
    rolled, summed = await rollups_and_readings(app, ids[1:])
    assert rolled != summed  # the other one is left alone

    every = scorecard_cli("rollups", "rebuild", env={"DATABASE_URL": database_url})
    assert every.returncode == 0, every.stderr
    assert "2/2 measures (100 %)" in every.stderr
    assert "rollups rebuilt for 2 measure(s)" in every.stderr
    assert await assert_rollups_match_readings(app, ids) == 6

    unknown = scorecard_cli(
        "rollups", "rebuild", "--measure", str(uuid.uuid4()), env={"DATABASE_URL": database_url}
    )
    assert unknown.returncode == 2
    assert "not found" in unknown.stderr
    assert "Traceback" not in unknown.stderr
