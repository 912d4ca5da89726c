"""xAPI depth: learners, the distinct_subjects aggregation, and voided statements.

- `readings.subject`: who the reading is about (an xAPI actor's identifier, or what a batch
  gives), at most 200 characters.
- `measures.aggregation` grows to 32 characters: `distinct_subjects` does not fit in 16.
- `ix_readings_xapi_external_id`: the readings a statement made, by its id, whatever measure
  holds them (what voiding deletes), for xAPI readings only.
- `xapi_statements.voids`: for a voiding statement, the id of the statement it voids (which
  may not have arrived yet). A statement is voided while a voiding statement names it; the
  partial index answers that question for one id or a page of them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _aggregation_type(sql_type: str) -> None:
    """A column named in a trigger's UPDATE OF list cannot change type: the definition-stamp
    trigger (migration 0004) is set aside and put back exactly as it was defined."""
    op.execute(f"""
DO $$
DECLARE definition text;
BEGIN
    SELECT pg_get_triggerdef(oid) INTO STRICT definition FROM pg_trigger
    WHERE tgrelid = 'measures'::regclass AND tgname = 'restamp_scorecard';
    DROP TRIGGER restamp_scorecard ON measures;
    ALTER TABLE measures ALTER COLUMN aggregation TYPE {sql_type};
    EXECUTE definition;
END $$""")


def upgrade() -> None:
    op.execute(
        "ALTER TABLE readings ADD COLUMN subject text "
        "CONSTRAINT ck_readings_subject_length CHECK (char_length(subject) <= 200)"
    )
    op.execute(
        "CREATE INDEX ix_readings_xapi_external_id ON readings (external_id) WHERE source = 'xapi'"
    )
    _aggregation_type("varchar(32)")
    op.execute("ALTER TABLE xapi_statements ADD COLUMN voids uuid")
    op.execute(
        "CREATE INDEX ix_xapi_statements_voids ON xapi_statements (voids) WHERE voids IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_xapi_statements_voids")
    op.execute("ALTER TABLE xapi_statements DROP COLUMN voids")
    # The older schema knows no distinct_subjects: such measures count their readings instead.
    op.execute("UPDATE measures SET aggregation = 'count' WHERE aggregation = 'distinct_subjects'")
    _aggregation_type("varchar(16)")
    op.execute("DROP INDEX ix_readings_xapi_external_id")
    op.execute("ALTER TABLE readings DROP COLUMN subject")
