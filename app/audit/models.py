from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base


class AuditEntry(Base):
    """Append-only; written by `app.audit.log.record` in plain SQL (one INSERT), declared here
    so the metadata knows the table. No foreign keys: an entry outlives what it names."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", text("at DESC"), text("id DESC")),
        Index("ix_audit_log_scorecard", "scorecard_id", text("at DESC"), text("id DESC")),
        Index("ix_audit_log_resource", "resource_id", text("at DESC"), text("id DESC")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor_key_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[uuid.UUID | None]
    scorecard_id: Mapped[uuid.UUID | None]
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
