"""Cascading scorecards, part A: the strategy map's arrows between objectives.

`objective_drives` holds one row per arrow (cause → effect) between two objectives of the same
scorecard; ON DELETE CASCADE on both sides, so deleting an objective takes it out of every other
objective's `drives`. The arrows are no input of any score: no definition stamp moves with them.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "objective_drives",
        sa.Column(
            "objective_id",
            sa.Uuid,
            sa.ForeignKey("objectives.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "drives_id",
            sa.Uuid,
            sa.ForeignKey("objectives.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.CheckConstraint("objective_id <> drives_id", name="not_itself"),
    )
    # The cascade from the driven objective looks its arrows up by it.
    op.create_index("ix_objective_drives_drives_id", "objective_drives", ["drives_id"])


def downgrade() -> None:
    op.drop_table("objective_drives")
