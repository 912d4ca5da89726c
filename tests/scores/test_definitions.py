"""What crossing detection and scores rely on: locks taken on the driver connection are held,
and a scorecard's definition stamp moves with every edit of its definition, and only then."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.core.database import driver_connection
from app.thresholds.status import lock_measures
from tests.factories import create_measure, create_scorecard


async def stamp(sessionmaker, scorecard_id: str) -> int:
    async with sessionmaker() as session:
        return await session.scalar(  # type: ignore[no-any-return]
            text("SELECT definition_stamp FROM scorecards WHERE id = :id"), {"id": scorecard_id}
        )


async def test_a_lock_taken_first_thing_on_the_driver_connection_is_held(client, sessionmaker):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"])
    measure_id = uuid.UUID(measure["id"])
    async with sessionmaker() as holder, sessionmaker() as waiter:
        # The first statement of `holder`'s session goes straight to asyncpg.
        await lock_measures(holder, [measure_id])
        connection = await driver_connection(waiter)
        await connection.execute("SET LOCAL lock_timeout = '200ms'")
        with pytest.raises(Exception, match="lock timeout"):
            await connection.execute("SELECT 1 FROM measures WHERE id = $1 FOR UPDATE", measure_id)
        await holder.commit()


async def test_the_driver_connection_is_in_the_sessions_transaction(sessionmaker):
    async with sessionmaker() as session:
        connection = await driver_connection(session)
        assert connection.is_in_transaction()
        await connection.execute("CREATE TEMP TABLE probe (x int) ON COMMIT DROP")
        # Run through the ORM session, this finds the table: one connection, one transaction.
        assert await session.scalar(text("SELECT count(*) FROM probe")) == 0
        await session.rollback()
        assert not connection.is_in_transaction()


async def test_the_definition_stamp_moves_with_definition_edits_only(client, sessionmaker):
    scorecard = await create_scorecard(client)
    seen = [await stamp(sessionmaker, scorecard["id"])]

    async def moved() -> bool:
        seen.append(await stamp(sessionmaker, scorecard["id"]))
        return seen[-1] != seen[-2]

    measure = await create_measure(client, scorecard["id"], key="nps")
    assert await moved()
    patch = await client.patch(
        f"/v1/measures/{measure['id']}", json={"target": 80}, headers={"If-Match": '"1"'}
    )
    assert patch.status_code == 200, patch.text
    assert await moved()
    reading = await client.post(  # a reading changes the status, not the definition
        f"/v1/measures/{measure['id']}/readings",
        json={"value": 79, "observed_at": datetime.now(UTC).isoformat()},
    )
    assert reading.status_code == 201
    assert not await moved()
    await client.patch(f"/v1/scorecards/{scorecard['id']}", json={"name": "renamed"})
    assert not await moved()
    await client.patch(f"/v1/scorecards/{scorecard['id']}", json={"timezone": "Europe/Paris"})
    assert await moved()
    objective = await client.post(
        f"/v1/scorecards/{scorecard['id']}/objectives",
        json={"name": "Grow skills", "perspective": "learning_growth"},
    )
    assert objective.status_code == 201
    assert await moved()
    deleted = await client.delete(f"/v1/measures/{measure['id']}?cascade=true")
    assert deleted.status_code == 204
    assert await moved()
    score = await client.get(f"/v1/scorecards/{scorecard['id']}/score")
    assert score.status_code == 200
    assert measure["id"] not in score.text  # no process scores with the old definition


async def test_concurrent_edits_and_writes_do_not_deadlock(client):
    scorecard = await create_scorecard(client)
    objective = (
        await client.post(
            f"/v1/scorecards/{scorecard['id']}/objectives",
            json={"name": "Grow skills", "perspective": "learning_growth"},
        )
    ).json()
    inputs = [
        await create_measure(client, scorecard["id"], key=f"in{i}", objective_id=objective["id"])
        for i in range(3)
    ]
    derived = await create_measure(client, scorecard["id"], key="total", formula="in0 + in1")
    now = datetime.now(UTC)

    async def edit(measure, i):
        return await client.patch(f"/v1/measures/{measure['id']}", json={"target": 90 + i})

    async def write(measure, i):
        return await client.post(
            f"/v1/measures/{measure['id']}/readings",
            json={"value": i, "observed_at": (now - timedelta(seconds=i)).isoformat()},
        )

    async def edit_objective(i):
        return await client.patch(f"/v1/objectives/{objective['id']}", json={"weight": 1 + i})

    responses = await asyncio.gather(
        *(edit([*inputs, derived][i % 4], i) for i in range(12)),
        *(write(inputs[i % 3], i) for i in range(24)),
        *(edit_objective(i) for i in range(4)),
        client.patch(f"/v1/scorecards/{scorecard['id']}", json={"timezone": "Asia/Tokyo"}),
    )
    assert {r.status_code for r in responses} <= {200, 201}, [
        (r.request.method, r.request.url.path) for r in responses if r.status_code >= 300
    ]


async def test_a_write_that_waited_for_an_edit_uses_the_edited_definition(client, sessionmaker):
    # Under READ COMMITTED the writer's locking statement sees the edited measure row but the
    # scorecard's definition stamp as of its start: it must notice, or it would evaluate the
    # reading with the old target from this process's cache.
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], baseline=0, target=100)
    url = f"/v1/measures/{measure['id']}/readings"
    now = datetime.now(UTC)
    first = await client.post(url, json={"value": 50, "observed_at": now.isoformat()})
    assert first.status_code == 201  # red: 50 % of the target; the definition is now cached
    async with sessionmaker() as editor:
        connection = await driver_connection(editor)
        await connection.execute(
            "UPDATE measures SET target = 55 WHERE id = $1", uuid.UUID(measure["id"])
        )
        later = (now + timedelta(seconds=1)).isoformat()
        writer = asyncio.create_task(client.post(url, json={"value": 50, "observed_at": later}))
        await asyncio.sleep(0.3)
        assert not writer.done(), "the writer should wait for the editor's lock"
        await editor.commit()
    assert (await writer).status_code == 201
    stored = (await client.get(f"/v1/measures/{measure['id']}")).json()["status"]
    fresh = (await client.get(f"/v1/measures/{measure['id']}/score")).json()["status"]
    assert stored == fresh == "green"  # 50 of 55
