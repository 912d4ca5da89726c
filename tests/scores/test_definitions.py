"""What crossing detection and scores rely on: locks taken on the driver connection are held,
and a scorecard's definition stamp moves with every edit of its definition, and only then."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.core.database import driver_connection
from app.scores.status import lock_measures
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


async def test_concurrent_definition_edits_do_not_deadlock(client):
    scorecard = await create_scorecard(client)
    objective = (
        await client.post(
            f"/v1/scorecards/{scorecard['id']}/objectives",
            json={"name": "Grow skills", "perspective": "learning_growth"},
        )
    ).json()
    measures = [
        await create_measure(client, scorecard["id"], objective_id=objective["id"])
        for _ in range(3)
    ]

    async def edit_measure(measure, i):
        return await client.patch(f"/v1/measures/{measure['id']}", json={"target": 90 + i})

    async def edit_objective(i):
        return await client.patch(f"/v1/objectives/{objective['id']}", json={"weight": 1 + i})

    responses = await asyncio.gather(
        *(edit_measure(measures[i % 3], i) for i in range(12)),
        *(edit_objective(i) for i in range(6)),
        client.patch(f"/v1/scorecards/{scorecard['id']}", json={"timezone": "Asia/Tokyo"}),
    )
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
