"""Initial schema: API keys, scorecards, objectives, measures, readings.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("scope IN ('admin', 'write', 'ingest', 'read')", name="scope"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "scorecards",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("owner", sa.String(200)),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("thresholds", JSONB, nullable=False),
        sa.Column("score_cap", sa.Float, nullable=False),
        sa.Column("perspectives", JSONB, nullable=False),
        *_timestamps(),
        sa.CheckConstraint("score_cap BETWEEN 100 AND 200", name="score_cap"),
    )
    op.create_index("ix_scorecards_name", "scorecards", ["name"])
    op.create_table(
        "objectives",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "scorecard_id",
            sa.Uuid,
            sa.ForeignKey("scorecards.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("perspective", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("weight", sa.Float, nullable=False),
        *_timestamps(),
    )
    op.create_index("ix_objectives_scorecard_id", "objectives", ["scorecard_id"])
    op.create_table(
        "measures",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "scorecard_id",
            sa.Uuid,
            sa.ForeignKey("scorecards.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("objective_id", sa.Uuid, sa.ForeignKey("objectives.id", ondelete="CASCADE")),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("unit", sa.String(50)),
        sa.Column("owner", sa.String(200)),
        sa.Column("perspective", sa.String(64), nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("baseline", sa.Float),
        sa.Column("target", sa.Float),
        sa.Column("target_min", sa.Float),
        sa.Column("target_max", sa.Float),
        sa.Column("tolerance", sa.Float),
        sa.Column("aggregation", sa.String(16), nullable=False),
        sa.Column("cadence", sa.String(16), nullable=False),
        sa.Column("prorate", sa.Boolean, nullable=False),
        sa.Column("thresholds", JSONB),
        sa.Column("formula", sa.String(1000)),
        sa.Column("xapi", JSONB),
        sa.Column("level", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False, server_default="no_data"),
        *_timestamps(),
        sa.UniqueConstraint("scorecard_id", "key", name="uq_measures_scorecard_id"),
    )
    op.create_index("ix_measures_objective_id", "measures", ["objective_id"])
    op.create_table(
        "readings",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "measure_id", sa.Uuid, sa.ForeignKey("measures.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(200)),
        sa.Column("external_id", sa.String(200)),
        sa.Column("note", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        # Also the index behind idempotent retries (ON CONFLICT (measure_id, external_id)).
        sa.UniqueConstraint("measure_id", "external_id", name="uq_readings_measure_id"),
    )
    # "Latest reading per measure" and per-period aggregates, as index-only scans.
    op.execute(
        "CREATE INDEX ix_readings_measure_observed"
        " ON readings (measure_id, observed_at DESC) INCLUDE (value)"
    )


def downgrade() -> None:
    op.drop_table("readings")
    op.drop_table("measures")
    op.drop_table("objectives")
    op.drop_table("scorecards")
    op.drop_table("api_keys")
