"""The team's reporting cycle: target schedules, locked periods, due readings.

- `measures.targets` (jsonb): the measure's target schedule. It is part of what scores are
  computed from, so the definition-stamp trigger of 0004 now watches it too.
- `measures.due_after_days`: the reading for a period is due this many days after its end.
- `scorecards.locked_before`: readings observed before it can no longer be created or deleted.
- `overdue_readings`: one row per (measure, period) whose reading went overdue; the sweeper
  inserts it with the `reading.overdue` event, and the primary key keeps a second worker from
  announcing the same period again.
- `is_time_zone(text)`: whether PostgreSQL knows a zone, so the due list can leave out a
  scorecard whose stored zone it does not know instead of failing for every scorecard.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURE_COLUMNS = (
    "scorecard_id, objective_id, key, name, unit, perspective, weight, direction, baseline, "
    "target, target_min, target_max, tolerance, aggregation, cadence, prorate, thresholds, formula"
)


def _restamp_trigger(columns: str) -> None:
    op.execute("DROP TRIGGER restamp_scorecard ON measures")
    op.execute(
        f"CREATE TRIGGER restamp_scorecard AFTER INSERT OR DELETE OR UPDATE OF {columns} "
        "ON measures FOR EACH ROW EXECUTE FUNCTION restamp_parent_scorecard()"
    )


def upgrade() -> None:
    op.execute("ALTER TABLE measures ADD COLUMN targets jsonb")
    op.execute(
        "ALTER TABLE measures ADD COLUMN due_after_days smallint "
        "CONSTRAINT ck_measures_due_after_days CHECK (due_after_days BETWEEN 0 AND 366)"
    )
    op.execute("ALTER TABLE scorecards ADD COLUMN locked_before timestamptz")
    _restamp_trigger(f"{MEASURE_COLUMNS}, targets")
    op.execute("""
CREATE FUNCTION is_time_zone(zone text) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    PERFORM now() AT TIME ZONE zone;
    RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END $$""")
    op.execute("""
CREATE TABLE overdue_readings (
    measure_id uuid NOT NULL
        CONSTRAINT fk_overdue_readings_measure_id_measures
        REFERENCES measures (id) ON DELETE CASCADE,
    period_start timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_overdue_readings PRIMARY KEY (measure_id, period_start)
)""")


def downgrade() -> None:
    op.execute("DROP TABLE overdue_readings")
    op.execute("DROP FUNCTION is_time_zone(text)")
    _restamp_trigger(MEASURE_COLUMNS)
    op.execute("ALTER TABLE scorecards DROP COLUMN locked_before")
    op.execute("ALTER TABLE measures DROP COLUMN due_after_days")
    op.execute("ALTER TABLE measures DROP COLUMN targets")
