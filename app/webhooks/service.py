"""Subscriptions, deliveries and the event log. Each public mutation is one unit of work: it
commits."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit.log import Action, diff, record, snapshot
from app.core.database import get_or_404
from app.core.errors import Conflict, ValidationFailed
from app.core.http import check_if_match
from app.core.pagination import paginate
from app.core.settings import Settings
from app.webhooks.events import NOTIFY, emit_test_event
from app.webhooks.models import Delivery, DeliveryAttempt, Event, Subscription
from app.webhooks.schemas import WebhookCreate, WebhookUpdate
from app.webhooks.signing import new_secret
from app.webhooks.ssrf import DestinationRefused, public_addresses

# After a rotation the previous secret keeps signing for this long (receivers switch over).
ROTATION_OVERLAP = timedelta(hours=24)
ATTEMPT_LOG_LENGTH = 20


async def _check_destination(url: str, settings: Settings) -> None:
    if settings.scorecard_webhook_allow_private:
        return
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        await public_addresses(parsed.raw_host.decode("ascii"), port)
    except DestinationRefused as exc:
        raise ValidationFailed.at(
            ["body", "url"],
            f"{exc} (set SCORECARD_WEBHOOK_ALLOW_PRIVATE=true to allow internal receivers)",
        ) from None


# By table, as the subscription's foreign key refers to it: scorecards/ writes events through
# app.thresholds, which writes them here, so webhooks/ imports nothing of scorecards/.
_SCORECARD_EXISTS = text("SELECT EXISTS (SELECT 1 FROM scorecards WHERE id = :id)")


async def _check_scorecard(session: AsyncSession, scorecard_id: uuid.UUID | None) -> None:
    if scorecard_id is not None and not await session.scalar(
        _SCORECARD_EXISTS, {"id": scorecard_id}
    ):
        raise ValidationFailed.at(["body", "scorecard_id"], f"scorecard {scorecard_id} not found")


async def get_webhook(
    session: AsyncSession, webhook_id: uuid.UUID, *, for_update: bool = False
) -> Subscription:
    return await get_or_404(
        session, Subscription, webhook_id, what="webhook", for_update=for_update
    )


async def list_webhooks(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[Subscription], str | None]:
    return await paginate(
        session,
        select(Subscription),
        keys=[Subscription.id],
        limit=limit,
        cursor=cursor,
    )


async def create_webhook(
    session: AsyncSession, body: WebhookCreate, settings: Settings
) -> Subscription:
    """The new subscription; its `secret` is shown to the caller this once."""
    await _check_scorecard(session, body.scorecard_id)
    await _check_destination(body.url, settings)
    subscription = Subscription(**body.model_dump(), secret=new_secret())
    session.add(subscription)
    await session.flush()
    await record(
        session,
        Action.webhook_created,
        resource_id=subscription.id,
        scorecard_id=subscription.scorecard_id,
        changes=diff({}, snapshot(subscription)),
    )
    await session.commit()
    return subscription


async def update_webhook(
    session: AsyncSession,
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    if_match: str | None,
    settings: Settings,
) -> Subscription:
    subscription = await get_webhook(session, webhook_id, for_update=True)
    check_if_match(if_match, subscription.version)
    before = snapshot(subscription)
    changes: dict[str, Any] = body.changes()
    if "scorecard_id" in changes:
        await _check_scorecard(session, changes["scorecard_id"])
    if "url" in changes and changes["url"] != subscription.url:
        await _check_destination(changes["url"], settings)
        subscription.failing_since = None  # a new endpoint starts with a clean record
    if changes.get("active") and not subscription.active:
        subscription.disabled_reason = None
        subscription.failing_since = None
    for name, value in changes.items():
        setattr(subscription, name, value)
    subscription.version += 1
    await record(
        session,
        Action.webhook_updated,
        resource_id=webhook_id,
        scorecard_id=subscription.scorecard_id,
        changes=diff(before, snapshot(subscription)),
    )
    await session.commit()
    return subscription


async def delete_webhook(
    session: AsyncSession, webhook_id: uuid.UUID, if_match: str | None
) -> None:
    subscription = await get_webhook(session, webhook_id, for_update=True)
    check_if_match(if_match, subscription.version)
    before = snapshot(subscription)
    await session.execute(delete(Subscription).where(Subscription.id == webhook_id))
    await record(
        session,
        Action.webhook_deleted,
        resource_id=webhook_id,
        scorecard_id=subscription.scorecard_id,
        changes=diff(before, {}),
    )
    await session.commit()


async def rotate_secret(
    session: AsyncSession, webhook_id: uuid.UUID, if_match: str | None
) -> Subscription:
    """A new secret. The old one also signs for ROTATION_OVERLAP, so messages sent while the
    receiver switches over still verify with one of them."""
    subscription = await get_webhook(session, webhook_id, for_update=True)
    check_if_match(if_match, subscription.version)
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_expires_at = datetime.now(UTC) + ROTATION_OVERLAP
    subscription.secret = new_secret()
    subscription.version += 1
    # That it happened, never what either secret is.
    await record(
        session,
        Action.webhook_secret_rotated,
        resource_id=webhook_id,
        scorecard_id=subscription.scorecard_id,
    )
    await session.commit()
    return subscription


def _require_active(subscription: Subscription) -> None:
    if not subscription.active:
        reason = f" ({subscription.disabled_reason})" if subscription.disabled_reason else ""
        raise Conflict(
            f"webhook {subscription.id} is disabled{reason}; "
            're-activate it with PATCH {"active": true} first'
        )


async def send_test(session: AsyncSession, webhook_id: uuid.UUID) -> Delivery:
    """Queue a `webhook.test` event for this subscription only."""
    _require_active(await get_webhook(session, webhook_id))
    event_id = await emit_test_event(session, webhook_id)
    await session.commit()
    delivery = await session.scalar(select(Delivery).where(Delivery.event_id == event_id))
    assert delivery is not None
    return delivery


@dataclass(frozen=True, slots=True)
class LoggedDelivery:
    """A delivery with its latest attempts (`attempt_logs`), as the API shows it."""

    delivery: Delivery
    attempts: list[DeliveryAttempt]


async def _with_logs(session: AsyncSession, deliveries: list[Delivery]) -> list[LoggedDelivery]:
    logs = await attempt_logs(session, [d.id for d in deliveries])
    return [LoggedDelivery(d, logs.get(d.id, [])) for d in deliveries]


async def _get_delivery(
    session: AsyncSession, delivery_id: uuid.UUID, *, for_update: bool = False
) -> Delivery:
    return await get_or_404(session, Delivery, delivery_id, what="delivery", for_update=for_update)


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> LoggedDelivery:
    [logged] = await _with_logs(session, [await _get_delivery(session, delivery_id)])
    return logged


async def list_deliveries(
    session: AsyncSession,
    webhook_id: uuid.UUID,
    *,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[LoggedDelivery], str | None]:
    """Newest first (delivery ids are UUIDv7)."""
    await get_webhook(session, webhook_id)
    query = select(Delivery).where(Delivery.subscription_id == webhook_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    rows, next_cursor = await paginate(
        session,
        query,
        keys=[Delivery.id],
        descending=True,
        limit=limit,
        cursor=cursor,
    )
    return await _with_logs(session, rows), next_cursor


async def attempt_logs(
    session: AsyncSession, delivery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[DeliveryAttempt]]:
    """The latest ATTEMPT_LOG_LENGTH attempts of each delivery, oldest first, in one query."""
    rank = (
        func.row_number()
        .over(partition_by=DeliveryAttempt.delivery_id, order_by=DeliveryAttempt.started_at.desc())
        .label("rank")
    )
    ranked = (
        select(DeliveryAttempt.id, rank)
        .where(DeliveryAttempt.delivery_id.in_(delivery_ids))
        .subquery()
    )
    rows = await session.scalars(
        select(DeliveryAttempt)
        .join(ranked, ranked.c.id == DeliveryAttempt.id)
        .where(ranked.c.rank <= ATTEMPT_LOG_LENGTH)
        .order_by(DeliveryAttempt.started_at)
    )
    logs: dict[uuid.UUID, list[DeliveryAttempt]] = defaultdict(list)
    for attempt in rows:
        logs[attempt.delivery_id].append(attempt)
    return logs


async def retry_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> LoggedDelivery:
    """Send again now, with the same webhook-id. A finished delivery gets one more attempt
    (more only if its retry schedule is not yet used up). Its attempts are read after the
    commit."""
    delivery = await _get_delivery(session, delivery_id, for_update=True)
    if delivery.status == "delivering":
        raise Conflict(f"delivery {delivery_id} is being attempted right now")
    _require_active(await get_webhook(session, delivery.subscription_id))
    delivery.status = "pending"
    delivery.next_attempt_at = datetime.now(UTC)
    delivery.completed_at = None
    await session.execute(NOTIFY)
    # Reload (event_type is a SQL expression the flush expired) while the row is still ours:
    # after the commit a worker may already be sending it.
    await session.flush()
    await session.refresh(delivery)
    await session.commit()
    [logged] = await _with_logs(session, [delivery])
    return logged


async def list_events(
    session: AsyncSession,
    *,
    after: uuid.UUID | datetime | None,
    event_type: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Event], str | None]:
    """Oldest first by id (UUIDv7, so creation order)."""
    query = select(Event)
    if isinstance(after, uuid.UUID):
        query = query.where(Event.id > after)
    elif after is not None:
        query = query.where(Event.timestamp > after)
    if event_type is not None:
        query = query.where(Event.type == event_type)
    return await paginate(
        session,
        query,
        keys=[Event.id],
        limit=limit,
        cursor=cursor,
    )


_BACKLOG = text("""
SELECT count(*) AS pending,
       count(*) FILTER (WHERE next_attempt_at <= now()) AS due,
       coalesce(extract(epoch FROM now() - min(next_attempt_at)), 0) AS oldest_due_age_s
FROM deliveries WHERE status = 'pending'
""")


async def backlog(connection: AsyncConnection | AsyncSession) -> dict[str, Any]:
    """Deliveries waiting (`pending`, including scheduled retries), those already due, and how
    long the longest-waiting due one has waited: the dispatch lag."""
    row = (await connection.execute(_BACKLOG)).one()
    return {
        "pending": row.pending,
        "due": row.due,
        "oldest_due_age_s": round(max(float(row.oldest_due_age_s), 0.0), 3),
    }
