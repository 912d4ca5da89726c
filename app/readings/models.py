from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base
from app.core.ids import new_id


class Reading(Base):
    __tablename__ = "readings"
    __table_args__ = (
        # Serves "latest reading per measure" (LATERAL … LIMIT 1) and per-period aggregates as
        # index-only scans: `value` rides along in the index leaf.
        Index(
            "ix_readings_measure_observed",
            "measure_id",
            text("observed_at DESC"),
            postgresql_include=["value"],
        ),
        UniqueConstraint("measure_id", "external_id"),
        # The readings an xAPI statement made, by statement id, for voiding (migration 0010).
        Index(
            "ix_readings_xapi_external_id",
            "external_id",
            postgresql_where=text("source = 'xapi'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    measure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(Float)
    observed_at: Mapped[datetime]
    source: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    # Who the reading is about (e.g. the learner of an xAPI statement); ≤ 200 (migration 0010).
    subject: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ReadingRollup(Base):
    """A measure's readings in one UTC day, summed up (migration 0013): kept with the readings
    by `app.readings.rollups`, read by the window statistics (`app.scores.data`)."""

    __tablename__ = "reading_rollups"
    # The migration's primary key also INCLUDEs n, total, minimum, maximum (index-only scans).

    measure_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("measures.id", ondelete="CASCADE"), primary_key=True
    )
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    n: Mapped[int]
    total: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
