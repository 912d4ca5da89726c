"""A scorecard's definition: the scorecard, its objectives and its measures (one aggregate:
edits of any part lock the scorecard first, `scorecards.service.lock_in_scorecard`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.orm import Mapped, column_property, mapped_column

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
    # Readings observed before it can no longer be created or deleted (closed periods).
    locked_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Statuses whose measures owe commentary for their period (`commentary_missing` in scores).
    commentary_required_for: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )


# The strategy map's arrows: objective `objective_id` drives (causes) objective `drives_id`, of
# the same scorecard. Either side's delete takes the arrow with it (migration 0011).
objective_drives = Table(
    "objective_drives",
    Base.metadata,
    Column("objective_id", ForeignKey("objectives.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "drives_id", ForeignKey("objectives.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


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
    # The objectives it drives, sorted: read with the row (so in its audit snapshot), written
    # through `objective_drives` (refresh the attribute after writing links).
    drives: Mapped[list[uuid.UUID]] = column_property(
        select(
            func.coalesce(
                func.array_agg(
                    aggregate_order_by(objective_drives.c.drives_id, objective_drives.c.drives_id)
                ),
                text("'{}'::uuid[]"),
            )
        )
        .where(objective_drives.c.objective_id == id)
        .correlate_except(objective_drives)
        .scalar_subquery()
    )


class Measure(Timestamped, Base):
    __tablename__ = "measures"
    __table_args__ = (UniqueConstraint("scorecard_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    scorecard_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scorecards.id", ondelete="CASCADE"))
    objective_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("objectives.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(50))
    owner: Mapped[str | None] = mapped_column(String(200))
    perspective: Mapped[str] = mapped_column(String(64))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    direction: Mapped[str] = mapped_column(String(16))
    baseline: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    target_min: Mapped[float | None] = mapped_column(Float)
    target_max: Mapped[float | None] = mapped_column(Float)
    tolerance: Mapped[float | None] = mapped_column(Float)
    aggregation: Mapped[str] = mapped_column(String(32), default="latest")
    cadence: Mapped[str] = mapped_column(String(16), default="month")
    prorate: Mapped[bool] = mapped_column(Boolean, default=False)
    thresholds: Mapped[dict[str, float] | None] = mapped_column(JSONB)
    formula: Mapped[str | None] = mapped_column(String(1000))
    # A linked measure's source (migration 0011): at most one of the two.
    source_measure_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("measures.id"), index=True
    )
    source_scorecard_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("scorecards.id"), index=True
    )
    xapi: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    level: Mapped[str | None] = mapped_column(String(16))
    # Target schedule: [{"from": RFC 3339, "baseline"?, "target"?, "target_min"?,
    # "target_max"?, "thresholds"?}], by "from", strictly ascending; None: none.
    targets: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    due_after_days: Mapped[int | None] = mapped_column(
        SmallInteger, CheckConstraint("due_after_days BETWEEN 0 AND 366", "due_after_days")
    )
    # Last evaluated status; maintained by the write path (crossing detection).
    status: Mapped[str] = mapped_column(String(16), default="no_data")

    @property
    def source(self) -> dict[str, uuid.UUID | None] | None:
        """The API's `source`, `{"measure_id", "scorecard_id"}` or None, over the columns."""
        if self.source_measure_id is None and self.source_scorecard_id is None:
            return None
        return {"measure_id": self.source_measure_id, "scorecard_id": self.source_scorecard_id}

    @source.setter
    def source(self, source: dict[str, uuid.UUID | None] | None) -> None:
        self.source_measure_id = None if source is None else source.get("measure_id")
        self.source_scorecard_id = None if source is None else source.get("scorecard_id")
