"""Cascading scorecards: linked measures, and the strategy map's arrows between objectives.

`measures.source_measure_id` / `source_scorecard_id` (at most one) make a linked measure: its
value is that measure's or that scorecard's score. The foreign keys have no cascade: the service
refuses to delete a measure or scorecard another links (409), and the keys back that up. A
linked measure has no formula (a check).

`objective_drives` holds one row per arrow (cause → effect) between two objectives of the same
scorecard; ON DELETE CASCADE on both sides, so deleting an objective takes it out of every other
objective's `drives`. The arrows are no input of any score: no definition stamp moves with them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The measure columns whose update moves the scorecard's definition stamp (0004, 0008).
MEASURE_COLUMNS = (
    "scorecard_id, objective_id, key, name, unit, perspective, weight, direction, baseline, "
    "target, target_min, target_max, tolerance, aggregation, cadence, prorate, thresholds, "
    "formula, targets"
)


def _restamp_trigger(columns: str) -> None:
    op.execute("DROP TRIGGER restamp_scorecard ON measures")
    op.execute(
        f"CREATE TRIGGER restamp_scorecard AFTER INSERT OR DELETE OR UPDATE OF {columns} "
        "ON measures FOR EACH ROW EXECUTE FUNCTION restamp_parent_scorecard()"
    )


def upgrade() -> None:
    op.add_column(
        "measures",
        sa.Column(
            "source_measure_id",
            sa.Uuid,
            sa.ForeignKey("measures.id", name="fk_measures_source_measure_id_measures"),
        ),
    )
    op.add_column(
        "measures",
        sa.Column(
            "source_scorecard_id",
            sa.Uuid,
            sa.ForeignKey("scorecards.id", name="fk_measures_source_scorecard_id_scorecards"),
        ),
    )
    # Deletes look up who links what.
    op.create_index("ix_measures_source_measure_id", "measures", ["source_measure_id"])
    op.create_index("ix_measures_source_scorecard_id", "measures", ["source_scorecard_id"])
    op.create_check_constraint(
        "source",
        "measures",
        "num_nonnulls(source_measure_id, source_scorecard_id) <= 1 AND (formula IS NULL OR "
        "num_nonnulls(source_measure_id, source_scorecard_id) = 0)",
    )
    _restamp_trigger(f"{MEASURE_COLUMNS}, source_measure_id, source_scorecard_id")
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
    _restamp_trigger(MEASURE_COLUMNS)
    op.drop_constraint("ck_measures_source", "measures")
    op.drop_column("measures", "source_scorecard_id")
    op.drop_column("measures", "source_measure_id")
