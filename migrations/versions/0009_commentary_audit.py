"""The team's reporting cycle, part B: commentary per measure and period, the audit log, and
the scorecard's `commentary_required_for`.

- `commentary`: one row per (measure, period), keyed by the period's start; its end is kept
  too, so a note written for a month never shows on a day that happens to start with it after
  the measure's cadence changed.
- `audit_log`: append-only; nothing references it and it references nothing, so an entry
  outlives the key, scorecard or measure it names. Listed newest first (`at`, `id`), and by
  scorecard or resource; pruned by age (the worker, `SCORECARD_AUDIT_RETENTION_DAYS`).
- `scorecards.commentary_required_for` decides `commentary_missing` in scores, so it joins the
  columns whose update moves the definition stamp (migration 0004): cached scores go stale.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCORECARD_COLUMNS = "timezone, thresholds, score_cap, perspectives"


def _restamp_trigger(columns: str) -> None:
    op.execute("DROP TRIGGER restamp ON scorecards")
    op.execute(
        f"CREATE TRIGGER restamp BEFORE UPDATE OF {columns} ON scorecards "
        "FOR EACH ROW EXECUTE FUNCTION restamp_scorecard()"
    )


def upgrade() -> None:
    op.execute(
        "ALTER TABLE scorecards ADD COLUMN commentary_required_for jsonb NOT NULL "
        "DEFAULT '[]'::jsonb"
    )
    _restamp_trigger(f"{SCORECARD_COLUMNS}, commentary_required_for")
    op.execute("""
CREATE TABLE commentary (
    measure_id uuid NOT NULL
        CONSTRAINT fk_commentary_measure_id_measures REFERENCES measures (id) ON DELETE CASCADE,
    period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL,
    analysis text,
    actions text,
    author varchar(200) NOT NULL,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_commentary PRIMARY KEY (measure_id, period_start)
)""")
    op.execute("""
CREATE TABLE audit_log (
    id uuid NOT NULL CONSTRAINT pk_audit_log PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor_key_id uuid,
    actor_name varchar(200),
    action varchar(64) NOT NULL,
    resource_type varchar(32) NOT NULL,
    resource_id uuid,
    scorecard_id uuid,
    changes jsonb
)""")
    op.execute("CREATE INDEX ix_audit_log_at ON audit_log (at DESC, id DESC)")
    op.execute("CREATE INDEX ix_audit_log_scorecard ON audit_log (scorecard_id, at DESC, id DESC)")
    op.execute("CREATE INDEX ix_audit_log_resource ON audit_log (resource_id, at DESC, id DESC)")


def downgrade() -> None:
    op.execute("DROP TABLE audit_log")
    op.execute("DROP TABLE commentary")
    _restamp_trigger(SCORECARD_COLUMNS)
    op.execute("ALTER TABLE scorecards DROP COLUMN commentary_required_for")
