"""The event outbox: `emit_event` records an event and its deliveries in the caller's
transaction, so a rolled-back change never notifies anyone and a committed one always does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.ids import new_id
from app.core.jsonutil import dumps

THRESHOLD_CROSSED = "measure.threshold_crossed"
INITIATIVE_STATUS_CHANGED = "initiative.status_changed"
READING_OVERDUE = "reading.overdue"
WEBHOOK_TEST = "webhook.test"
EVENT_TYPES = (THRESHOLD_CROSSED, READING_OVERDUE, INITIATIVE_STATUS_CHANGED, WEBHOOK_TEST)

# Workers LISTEN on this channel; NOTIFY is delivered when the emitting transaction commits.
CHANNEL = "webhook_deliveries"

# UUIDv7 in SQL (PostgreSQL < 18 has none): a random v4 with its first 48 bits replaced by the
# Unix time in ms and the version nibble turned from 4 into 7, so delivery ids sort by creation.
UUID7_SQL = """encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
    substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
    FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"""

# Built from constants only; every value is a bound parameter.
_RECORD_EVENT = f"""
WITH event AS (
    INSERT INTO events (id, type, timestamp, data, scorecard_id)
    VALUES (:id, :type, :timestamp, CAST(:data AS jsonb), :scorecard_id)
    RETURNING id
)
INSERT INTO deliveries (id, event_id, subscription_id, status, next_attempt_at)
SELECT {UUID7_SQL}, event.id, s.id, 'pending', now()
FROM event, webhook_subscriptions s
WHERE """  # noqa: S608

_SUBSCRIBERS = text(
    _RECORD_EVENT
    + """s.active
  AND (s.event_types IS NULL OR CAST(:type AS varchar) = ANY(s.event_types))
  AND (s.scorecard_id IS NULL OR s.scorecard_id = :scorecard_id)"""
)

# `webhook.test` goes to the one subscription it was requested for, whatever its filters.
_ONE_SUBSCRIBER = text(_RECORD_EVENT + "s.id = :subscription_id")

NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', '')")


async def emit_event(
    session: AsyncSession,
    event_type: str,
    data: dict[str, Any],
    *,
    scorecard_id: uuid.UUID | None,
) -> uuid.UUID:
    """Record an event and queue one delivery per matching active subscription (its
    `event_types` and `scorecard_id` filters; NULL matches all). Runs in the caller's
    transaction and does not commit; workers are woken when it commits. Returns the event id,
    which is also the `webhook-id` of its deliveries."""
    return await _record(session, _SUBSCRIBERS, event_type, data, scorecard_id=scorecard_id)


async def emit_test_event(session: AsyncSession, subscription_id: uuid.UUID) -> uuid.UUID:
    """A `webhook.test` event delivered to one subscription only. Does not commit."""
    return await _record(
        session,
        _ONE_SUBSCRIBER,
        WEBHOOK_TEST,
        {"subscription_id": str(subscription_id), "message": "test event requested via the API"},
        scorecard_id=None,
        subscription_id=subscription_id,
    )


async def _record(
    session: AsyncSession,
    statement: Any,
    event_type: str,
    data: dict[str, Any],
    *,
    scorecard_id: uuid.UUID | None,
    subscription_id: uuid.UUID | None = None,
) -> uuid.UUID:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; known: {EVENT_TYPES}")
    event_id = new_id()
    params: dict[str, Any] = {
        "id": event_id,
        "type": event_type,
        "timestamp": datetime.now(UTC),
        # orjson turns UUIDs and datetimes in `data` into JSON strings; NaN into null.
        "data": dumps(data).decode(),
        "scorecard_id": scorecard_id,
    }
    if subscription_id is not None:
        params["subscription_id"] = subscription_id
    queued = (await session.execute(statement, params)).rowcount  # type: ignore[attr-defined]
    if queued:
        await session.execute(NOTIFY)
    return event_id


def event_payload(
    event_id: uuid.UUID, event_type: str, timestamp: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    """What webhooks carry and `/v1/events` lists (docs/webhooks.md)."""
    return {"type": event_type, "id": str(event_id), "timestamp": _rfc3339(timestamp), "data": data}


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
