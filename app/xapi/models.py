from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base


class XapiStatement(Base):
    """An xAPI statement exactly as the LRS client sent it (`statement`), plus the columns that
    mapping, backfill and listing query by."""

    __tablename__ = "xapi_statements"
    __table_args__ = (
        # Backfill walks the statements of one verb in id order (filtering on the activity).
        Index("ix_xapi_statements_verb_id", "verb_id", "id"),
        # GET /xapi/statements lists the most recently stored first.
        Index("ix_xapi_statements_stored", "stored", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    verb_id: Mapped[str] = mapped_column(Text)
    # object.id when the object is an Activity (or a StatementRef); null for Agents and Groups.
    activity_id: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[datetime]
    stored: Mapped[datetime]
    # For a voiding statement, the id of the statement it voids (migration 0010).
    voids: Mapped[uuid.UUID | None]
    # json, not jsonb: the text as sent, U+0000 included (migration 0006)
    statement: Mapped[dict[str, Any]] = mapped_column(JSON)
