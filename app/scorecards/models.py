from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, Timestamped
from app.core.ids import new_id


class Scorecard(Timestamped, Base):
    __tablename__ = "scorecards"
    __table_args__ = (CheckConstraint("score_cap BETWEEN 100 AND 200", "score_cap"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    thresholds: Mapped[dict[str, float]] = mapped_column(JSONB)
    score_cap: Mapped[float] = mapped_column(Float, default=100.0)
    # [{"key", "name", "weight"}]: few, always read with the scorecard, so kept inline.
    perspectives: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)


class Objective(Timestamped, Base):
    __tablename__ = "objectives"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    scorecard_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("scorecards.id", ondelete="CASCADE"), index=True
    )
    perspective: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
