from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, Timestamped


class Commentary(Timestamped, Base):
    """One per (measure, period); the period is named by its start, its end kept beside it."""

    __tablename__ = "commentary"

    measure_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("measures.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    period_end: Mapped[datetime]
    analysis: Mapped[str | None] = mapped_column(Text)
    actions: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
