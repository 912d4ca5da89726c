"""reading.overdue: the worker announces each (measure, period) once, when its due date passes
unreported, through the outbox, to the subscriptions that want it — with any number of workers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import text

from app.core.database import make_sessionmaker
from app.readings.due import sweep_overdue
from tests.factories import create_measure, create_scorecard

JULY_6 = datetime(2026, 7, 6, tzinfo=UTC)  # June's readings are due then, 5 days after


async def overdue_events(app):
    async with app.state.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT data FROM events WHERE type = 'reading.overdue' ORDER BY id")
        )
        return [row.data for row in rows]


async def test_an_overdue_reading_is_announced_once_to_who_subscribed(
    client, app, sessionmaker, subscribe
):
    scorecard = await create_scorecard(client)
    wanted = await subscribe(event_types=["reading.overdue"])
    await subscribe(event_types=["measure.threshold_crossed"])
    measure = await create_measure(
        client, scorecard["id"], key="nps", owner="Ada", due_after_days=5
    )
    reported = await create_measure(client, scorecard["id"], due_after_days=5)
    await client.post(
        f"/v1/measures/{reported['id']}/readings",
        json={"value": 1, "observed_at": "2026-06-15T00:00:00Z"},
    )
    assert await sweep_overdue(sessionmaker, datetime(2026, 7, 5, 23, 59, tzinfo=UTC)) == 0
    assert await sweep_overdue(sessionmaker, JULY_6) == 1
    assert await sweep_overdue(sessionmaker, datetime(2026, 7, 20, tzinfo=UTC)) == 0  # once
    assert await overdue_events(app) == [
        {
            "scorecard_id": scorecard["id"],
            "measure_id": measure["id"],
            "measure_key": "nps",
            "owner": "Ada",
            "period": {"start": "2026-06-01T00:00:00Z", "end": "2026-07-01T00:00:00Z"},
            "due_at": "2026-07-06T00:00:00Z",
        }
    ]
    async with app.state.engine.connect() as connection:
        subscribers = (
            await connection.execute(
                text(
                    "SELECT d.subscription_id FROM deliveries d JOIN events e ON e.id = d.event_id"
                    " WHERE e.type = 'reading.overdue'"
                )
            )
        ).scalars()
        assert [str(s) for s in subscribers] == [wanted["id"]]
    # The event log lists it under its type, as any event.
    listed = (await client.get("/v1/events", params={"type": "reading.overdue"})).json()
    assert [e["data"]["measure_id"] for e in listed["items"]] == [measure["id"]]
    # August's reading, unreported, is a new period: announced in its turn.
    assert await sweep_overdue(sessionmaker, datetime(2026, 9, 6, tzinfo=UTC)) == 2


async def test_two_workers_sweeping_at_once_announce_each_period_once(
    client, app, sessionmaker, second_engine
):
    scorecard = await create_scorecard(client)
    for _ in range(30):
        await create_measure(client, scorecard["id"], due_after_days=5)
    other_worker = make_sessionmaker(second_engine)
    announced = await asyncio.gather(
        sweep_overdue(sessionmaker, JULY_6), sweep_overdue(other_worker, JULY_6)
    )
    assert sum(announced) == 30
    events = await overdue_events(app)
    assert len(events) == len({e["measure_id"] for e in events}) == 30


async def test_a_cadence_change_announces_the_new_cadence_s_periods(client, app, sessionmaker):
    """A quarter starts where its first month does: January's announcement must not stand for
    the first quarter's once the measure turns quarterly."""
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], due_after_days=0)
    assert await sweep_overdue(sessionmaker, datetime(2026, 2, 10, tzinfo=UTC)) == 1
    patched = await client.patch(f"/v1/measures/{measure['id']}", json={"cadence": "quarter"})
    assert patched.status_code == 200
    assert await sweep_overdue(sessionmaker, datetime(2026, 4, 10, tzinfo=UTC)) == 1
    assert await sweep_overdue(sessionmaker, datetime(2026, 4, 20, tzinfo=UTC)) == 0
    assert [event["period"] for event in await overdue_events(app)] == [
        {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"},
        {"start": "2026-01-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"},
    ]
    # Other edits keep what was announced.
    await client.patch(f"/v1/measures/{measure['id']}", json={"due_after_days": 1, "name": "x"})
    assert await sweep_overdue(sessionmaker, datetime(2026, 4, 30, tzinfo=UTC)) == 0
