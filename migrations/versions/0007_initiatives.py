"""Initiatives: the programmes, courses and projects a team runs to move its measures, with
their dates, status, progress and budget, linked to objectives and measures of their scorecard.

Links live in two tables with ON DELETE CASCADE on both sides, so deleting an objective or a
measure takes it out of every initiative's lists, and deleting an initiative (or its scorecard)
takes its links with it.

Score trees show initiatives (objective nodes) and flag red measures that no active initiative
covers, so initiatives are part of what a score is computed from: the scorecard's
`definition_stamp` (0004) moves with any change of an initiative or of its links, by triggers,
so every cached definition and score is dropped at once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'planned', 'on_track', 'at_risk', 'off_track', 'done', 'cancelled'"
BUDGET = "budget_planned, budget_spent, budget_currency"
LINKS = (
    ("initiative_objectives", "objective_id", "objectives"),
    ("initiative_measures", "measure_id", "measures"),
)


def upgrade() -> None:
    op.create_table(
        "initiatives",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "scorecard_id",
            sa.Uuid,
            sa.ForeignKey("scorecards.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("owner", sa.String(200)),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        # numeric: budget totals are sums of many amounts, exact in decimal.
        sa.Column("budget_planned", sa.Numeric),
        sa.Column("budget_spent", sa.Numeric),
        sa.Column("budget_currency", sa.String(3)),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("start_date <= end_date", name="dates"),
        sa.CheckConstraint(
            "start_date >= '1900-01-01' AND end_date < '2200-01-01'", name="date_range"
        ),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="status"),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        sa.CheckConstraint(
            f"num_nulls({BUDGET}) IN (0, 3) AND budget_planned BETWEEN 0 AND 1e15 "
            "AND budget_spent BETWEEN 0 AND 1e15",
            name="budget",
        ),
    )
    # Lists page by id within a scorecard.
    op.create_index("ix_initiatives_scorecard_id", "initiatives", ["scorecard_id", "id"])
    for table, column, target in LINKS:
        op.create_table(
            table,
            sa.Column(
                "initiative_id",
                sa.Uuid,
                sa.ForeignKey("initiatives.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column(
                column, sa.Uuid, sa.ForeignKey(f"{target}.id", ondelete="CASCADE"), primary_key=True
            ),
        )
        # Cascades from the objective or measure, and the list filters, look links up by it.
        op.create_index(f"ix_{table}_{column}", table, [column])

    op.execute(
        "CREATE TRIGGER restamp_scorecard AFTER INSERT OR DELETE OR UPDATE ON initiatives "
        "FOR EACH ROW EXECUTE FUNCTION restamp_parent_scorecard()"
    )
    # A link row has no scorecard_id: its initiative's (gone already when the initiative or its
    # scorecard is being deleted, whose own triggers restamp).
    op.execute("""
CREATE FUNCTION restamp_initiative_scorecard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE scorecards SET definition_stamp = nextval('definition_stamps')
        WHERE id = (SELECT scorecard_id FROM initiatives WHERE id = OLD.initiative_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE scorecards SET definition_stamp = nextval('definition_stamps')
        WHERE id = (SELECT scorecard_id FROM initiatives WHERE id = NEW.initiative_id);
    END IF;
    RETURN NULL;
END $$""")
    for table, _, _ in LINKS:
        op.execute(
            f"CREATE TRIGGER restamp_scorecard AFTER INSERT OR DELETE OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION restamp_initiative_scorecard()"
        )


def downgrade() -> None:
    for table, _, _ in LINKS:
        op.drop_table(table)
    op.execute("DROP FUNCTION restamp_initiative_scorecard()")
    op.drop_table("initiatives")
