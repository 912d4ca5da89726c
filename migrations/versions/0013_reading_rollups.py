"""Reading rollups: per measure and UTC day, the count, sum, minimum and maximum of its readings.

- `reading_rollups` (measure_id, bucket_start): kept by the write path in the transaction that
  changes readings (app/readings/rollups.py); window statistics read a window's whole days
  from here and only its partial days at the edges from `readings`. Rows go with their measure
  (ON DELETE CASCADE). The primary key INCLUDEs the sums, so windows read them by index-only
  scans (updates are not HOT then; bottom-up index deletion keeps the churn of current days
  in check).
- Existing readings are rolled up measure by measure, a batch of measures per transaction, in
  measure id order; an interrupted upgrade resumes after the last measure done (the table
  and its finished rows survive, as `CREATE TABLE IF NOT EXISTS` keeps them).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES_PER_BATCH = 50

# Frozen here as of this revision (the application's own copy is app/readings/rollups.py).
_BUILD = """
INSERT INTO reading_rollups (measure_id, bucket_start, n, total, minimum, maximum)
SELECT r.measure_id, date_bin('24 hours', r.observed_at, TIMESTAMPTZ '0001-01-01 00:00:00+00'),
       count(*), sum(r.value), min(r.value), max(r.value)
FROM readings r
WHERE r.measure_id = ANY(CAST(:ids AS uuid[]))
GROUP BY 1, 2
ON CONFLICT (measure_id, bucket_start) DO UPDATE
SET n = excluded.n, total = excluded.total, minimum = excluded.minimum, maximum = excluded.maximum
"""


def upgrade() -> None:
    op.execute("""
CREATE TABLE IF NOT EXISTS reading_rollups (
    measure_id uuid NOT NULL
        CONSTRAINT fk_reading_rollups_measure_id_measures REFERENCES measures (id)
        ON DELETE CASCADE,
    bucket_start timestamptz NOT NULL,
    n integer NOT NULL,
    total double precision NOT NULL,
    minimum double precision NOT NULL,
    maximum double precision NOT NULL,
    CONSTRAINT pk_reading_rollups PRIMARY KEY (measure_id, bucket_start)
        INCLUDE (n, total, minimum, maximum)
)""")
    bind = op.get_bind()
    # Commit the table, then one transaction per batch: a long history is not rolled up in one
    # transaction, and what is done stays done if the upgrade stops.
    with op.get_context().autocommit_block():
        done = bind.execute(
            text("SELECT measure_id FROM reading_rollups ORDER BY measure_id DESC LIMIT 1")
        ).scalar()
        while True:
            ids = (
                bind.execute(
                    text(
                        "SELECT id FROM measures WHERE CAST(:done AS uuid) IS NULL OR id > :done "
                        "ORDER BY id LIMIT :n"
                    ),
                    {"done": done, "n": MEASURES_PER_BATCH},
                )
                .scalars()
                .all()
            )
            if not ids:
                break
            bind.execute(text(_BUILD), {"ids": ids})  # autocommit: its own transaction
            done = ids[-1]


def downgrade() -> None:
    op.execute("DROP TABLE reading_rollups")
