"""Webhook subscriptions, the event log (outbox) and deliveries with their attempts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, column_property, mapped_column

from app.core.database import Base, Timestamped
from app.core.ids import new_id


class Subscription(Timestamped, Base):
    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_scorecard_id", "scorecard_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2000))
    # NULL: every event type, including ones added later.
    event_types: Mapped[list[str] | None] = mapped_column(ARRAY(String(64)))
    scorecard_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("scorecards.id", ondelete="CASCADE")
    )
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation the old secret also signs for a while, so receivers can switch over.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None]
    # Start of the current run of failed attempts (NULL after any success).
    failing_since: Mapped[datetime | None]


class Event(Base):
    """The event log. Rows are written in the transaction that causes them (outbox pattern)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_timestamp", "timestamp"),
        Index("ix_events_type", "type", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    scorecard_id: Mapped[uuid.UUID | None]


class Delivery(Base):
    """One event to one subscription. Its `webhook-id` is the event id, on every attempt."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivering', 'succeeded', 'failed')", "status"),
        UniqueConstraint("event_id", "subscription_id"),
        Index("ix_deliveries_subscription_id", "subscription_id", "id"),
        # What workers claim: due deliveries, and leases of workers that died.
        Index("ix_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index(
            "ix_deliveries_leased",
            "lease_expires_at",
            postgresql_where=text("status = 'delivering'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Attempts started so far; also the fencing token that makes a stale worker's result void.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[datetime | None]

    event_type: Mapped[str] = column_property(
        select(Event.type).where(Event.id == event_id).scalar_subquery()
    )


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_delivery_id", "delivery_id", "started_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    duration_ms: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
