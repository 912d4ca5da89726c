"""Score stamps: numbers that change whenever what a score is computed from changes, so a
process can trust a cached definition or score after reading two numbers.

- `scorecards.definition_stamp` changes with anything the scoring engine reads of a scorecard's
  definition (the scorecard, its objectives, its measures). Triggers keep it, so no edit path
  can forget. A measure's computed `status` and its xAPI mapping are not part of it.
- `measures.data_stamp` changes with every write of the measure's readings: writers set it in
  the statement that locks the measure (`app.thresholds.status.lock_measures`). A measure's stamp
  only grows, so the sum over a scorecard's measures changes with any committed write.

Stamps come from sequences, never from counters: a value taken by a transaction that rolls back
is never handed out again, so a cache filled inside that transaction can never be mistaken for
committed state.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCORECARD_COLUMNS = "timezone, thresholds, score_cap, perspectives"
OBJECTIVE_COLUMNS = "scorecard_id, name, perspective, weight"
MEASURE_COLUMNS = (
    "scorecard_id, objective_id, key, name, unit, perspective, weight, direction, baseline, "
    "target, target_min, target_max, tolerance, aggregation, cadence, prorate, thresholds, formula"
)


def upgrade() -> None:
    op.execute("CREATE SEQUENCE definition_stamps")
    op.execute("CREATE SEQUENCE data_stamps")
    op.execute(
        "ALTER TABLE measures ADD COLUMN data_stamp bigint NOT NULL DEFAULT nextval('data_stamps')"
    )
    op.execute(
        "ALTER TABLE scorecards ADD COLUMN definition_stamp bigint NOT NULL "
        "DEFAULT nextval('definition_stamps')"
    )
    op.execute("""
CREATE FUNCTION restamp_scorecard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.definition_stamp := nextval('definition_stamps');
    RETURN NEW;
END $$""")
    op.execute("""
CREATE FUNCTION restamp_parent_scorecard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE scorecards SET definition_stamp = nextval('definition_stamps')
        WHERE id = OLD.scorecard_id;
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.scorecard_id <> OLD.scorecard_id) THEN
        UPDATE scorecards SET definition_stamp = nextval('definition_stamps')
        WHERE id = NEW.scorecard_id;
    END IF;
    RETURN NULL;
END $$""")
    op.execute(
        f"CREATE TRIGGER restamp BEFORE UPDATE OF {SCORECARD_COLUMNS} ON scorecards "
        "FOR EACH ROW EXECUTE FUNCTION restamp_scorecard()"
    )
    for table, columns in (("objectives", OBJECTIVE_COLUMNS), ("measures", MEASURE_COLUMNS)):
        op.execute(
            f"CREATE TRIGGER restamp_scorecard AFTER INSERT OR DELETE OR UPDATE OF {columns} "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION restamp_parent_scorecard()"
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER restamp_scorecard ON measures")
    op.execute("DROP TRIGGER restamp_scorecard ON objectives")
    op.execute("DROP TRIGGER restamp ON scorecards")
    op.execute("DROP FUNCTION restamp_parent_scorecard()")
    op.execute("DROP FUNCTION restamp_scorecard()")
    op.execute("ALTER TABLE scorecards DROP COLUMN definition_stamp")
    op.execute("DROP SEQUENCE definition_stamps")
    op.execute("ALTER TABLE measures DROP COLUMN data_stamp")
    op.execute("DROP SEQUENCE data_stamps")
