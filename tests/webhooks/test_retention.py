"""The event log is pruned after the retention period, settled events only, with their
deliveries and attempts."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from app.webhooks.retention import prune_events


async def add_event(connection, days_old: int, *delivery_statuses: str) -> uuid.UUID:
    event_id = uuid.uuid4()
    await connection.execute(
        text(
            "INSERT INTO events (id, type, timestamp, data) VALUES "
            "(:id, 'measure.threshold_crossed', now() - make_interval(days => :days), '{}')"
        ),
        {"id": event_id, "days": days_old},
    )
    for status in delivery_statuses:
        subscription_id = uuid.uuid4()
        await connection.execute(
            text(
                "INSERT INTO webhook_subscriptions (id, url, active, secret) "
                "VALUES (:id, 'https://example.com/hook', true, 'whsec_x')"
            ),
            {"id": subscription_id},
        )
        delivery_id = uuid.uuid4()
        await connection.execute(
            text(
                "INSERT INTO deliveries (id, event_id, subscription_id, status) "
                "VALUES (:id, :event, :subscription, :status)"
            ),
            {
                "id": delivery_id,
                "event": event_id,
                "subscription": subscription_id,
                "status": status,
            },
        )
        await connection.execute(
            text(
                "INSERT INTO delivery_attempts (id, delivery_id, attempt, started_at, duration_ms) "
                "VALUES (:id, :delivery, 1, now(), 5)"
            ),
            {"id": uuid.uuid4(), "delivery": delivery_id},
        )
    return event_id


async def test_old_settled_events_go_with_their_deliveries_and_attempts(app, clean_db):
    engine = app.state.engine
    async with engine.begin() as connection:
        old_done = await add_event(connection, 40, "succeeded", "failed")
        old_pending = await add_event(connection, 40, "succeeded", "pending")
        old_in_flight = await add_event(connection, 40, "delivering")
        recent = await add_event(connection, 5, "succeeded")
        old_without_deliveries = await add_event(connection, 31)

    assert await prune_events(engine, retention_days=30) == 2

    async with engine.connect() as connection:
        kept = set((await connection.execute(text("SELECT id FROM events"))).scalars())
        deliveries = (await connection.execute(text("SELECT count(*) FROM deliveries"))).scalar()
        attempts = (
            await connection.execute(text("SELECT count(*) FROM delivery_attempts"))
        ).scalar()
    assert kept == {old_pending, old_in_flight, recent}
    assert old_done not in kept and old_without_deliveries not in kept
    assert (deliveries, attempts) == (4, 4)  # 2 + 1 + 1 left, each with its attempt
