"""Initiatives: what a team does to move its measures (migration 0007). An initiative belongs
to one scorecard and links to objectives and measures of that scorecard; the links cascade
away with either side."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import Column, Date, Float, ForeignKey, Numeric, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, Timestamped
from app.core.ids import new_id

initiative_objectives = Table(
    "initiative_objectives",
    Base.metadata,
    Column("initiative_id", ForeignKey("initiatives.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "objective_id",
        ForeignKey("objectives.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)

initiative_measures = Table(
    "initiative_measures",
    Base.metadata,
    Column("initiative_id", ForeignKey("initiatives.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "measure_id", ForeignKey("measures.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class Initiative(Timestamped, Base):
    __tablename__ = "initiatives"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    scorecard_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scorecards.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float)
    budget_planned: Mapped[Decimal | None] = mapped_column(Numeric)
    budget_spent: Mapped[Decimal | None] = mapped_column(Numeric)
    budget_currency: Mapped[str | None] = mapped_column(String(3))
