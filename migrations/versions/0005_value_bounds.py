"""Bounds on what a reading can hold: observed_at in [1900, 2200) and |value| ≤ 10^15, so that
no stored row can make a score, a history or a sweep fail (an observed_at of -infinity, or a
sum that overflows, used to answer 500 for the whole scorecard).

The API refuses such values since this revision. Rows stored before it that break the bounds
cannot be repaired (the instant or the number meant is unknowable), so they are deleted and
counted in the migration's log: readings, and xAPI statements whose timestamp would make such a
reading. The measures they belonged to get a new data stamp, so no cached score outlives them.

The checks are added NOT VALID and then validated: validation scans the table under a lock
that lets reads and writes go on.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

IN_RANGE = "{column} >= '1900-01-01T00:00:00Z' AND {column} < '2200-01-01T00:00:00Z'"
# NaN is greater than every number in PostgreSQL, so BETWEEN also keeps it out.
VALUE_BOUND = "value BETWEEN -1e15 AND 1e15"

CHECKS = (
    ("readings", "ck_readings_observed_at_range", IN_RANGE.format(column="observed_at")),
    ("readings", "ck_readings_value_bound", VALUE_BOUND),
    ("xapi_statements", "ck_xapi_statements_timestamp_range", IN_RANGE.format(column="timestamp")),
)


def upgrade() -> None:
    bind = op.get_bind()
    readings = bind.execute(
        text(
            f"""
        WITH gone AS (
            DELETE FROM readings
            WHERE NOT ({IN_RANGE.format(column="observed_at")}) OR NOT ({VALUE_BOUND})
            RETURNING measure_id
        ), touched AS (
            UPDATE measures SET data_stamp = nextval('data_stamps')
            WHERE id IN (SELECT measure_id FROM gone)
        )
        SELECT count(*) FROM gone
        """
        )
    ).scalar_one()
    statements = bind.execute(
        text(f"DELETE FROM xapi_statements WHERE NOT ({IN_RANGE.format(column='timestamp')})")
    ).rowcount
    if readings or statements:
        log.warning(
            "deleted %d reading(s) and %d xAPI statement(s) outside the accepted bounds "
            "(observed_at/timestamp in [1900, 2200), |value| <= 1e15)",
            readings,
            statements,
        )
    for table, name, condition in CHECKS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({condition}) NOT VALID")
        op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")


def downgrade() -> None:
    for table, name, _ in reversed(CHECKS):
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
