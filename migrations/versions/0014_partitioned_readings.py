"""`readings` partitioned by month of `observed_at` (PostgreSQL's declarative partitioning).

The existing table is not copied: it becomes the partition `readings_history`, covering every
instant before the first month that starts after the migration (its readings observed later,
if any, move to their months' partitions), and each later month gets a partition of its own
(`readings_y2027m01`, …), created ahead of time by the worker, or on demand by the write path
for a reading no partition covers. Attaching
costs a scan and an index build, not a rewrite: the new primary key `(id, observed_at)` (a
partitioned table's unique keys must hold its partition key) and the key table below.

Idempotency by `(measure_id, external_id)` cannot be a unique index of a partitioned table
(it lacks `observed_at`), so it moves to the plain table `reading_keys`: one row per reading
that has an external_id, its primary key the pair. The write path copies the keys of the
readings it copies in, in the same transaction (`app.readings.service.write_readings`), so a
repeat fails as the old unique constraint did; statement-level triggers take the keys of
deleted readings along, and those of deleted measures (whose readings go by cascades that run
on the partitions, where the parent's statement triggers do not fire).

Reads and writes of readings wait for the whole migration (it holds ACCESS EXCLUSIVE on the
table): `python -m bench.partition` measures its time per 10^7 readings against a plain copy and
a full copy into monthly partitions (docs/data-access.md, Partitioning).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = """
    id uuid NOT NULL,
    measure_id uuid NOT NULL,
    value double precision NOT NULL,
    observed_at timestamptz NOT NULL,
    source varchar(200),
    external_id varchar(200),
    note text,
    created_at timestamptz NOT NULL DEFAULT now(),
    subject text"""
CHECKS = """
    CONSTRAINT ck_readings_observed_at_range CHECK (observed_at >= '1900-01-01T00:00:00Z'
        AND observed_at < '2200-01-01T00:00:00Z'),
    CONSTRAINT ck_readings_value_bound CHECK (value BETWEEN -1e15 AND 1e15),
    CONSTRAINT ck_readings_subject_length CHECK (char_length(subject) <= 200),
    CONSTRAINT fk_readings_measure_id_measures FOREIGN KEY (measure_id)
        REFERENCES measures (id) ON DELETE CASCADE"""
INDEXES = (
    "CREATE INDEX {prefix}_measure_observed ON {table}"
    " (measure_id, observed_at DESC) INCLUDE (value)",
    "CREATE INDEX {prefix}_xapi_external_id ON {table} (external_id) WHERE source = 'xapi'",
)

# Deleted readings take their keys along, and so do deleted measures: once per statement, over
# the set of rows deleted. For measures, not a foreign key: that would check every key copied
# in against `measures`, row by row (~25 % of the key table's COPY).
KEY_TRIGGER = (
    """
CREATE FUNCTION reading_keys_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM reading_keys k USING removed r
    WHERE r.external_id IS NOT NULL
      AND k.measure_id = r.measure_id AND k.external_id = r.external_id AND k.reading_id = r.id;
    RETURN NULL;
END $$""",
    """
CREATE TRIGGER tr_readings_keys_remove AFTER DELETE ON readings
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION reading_keys_remove()""",
    """
CREATE FUNCTION reading_keys_of_measures_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM reading_keys k USING removed m WHERE k.measure_id = m.id;
    RETURN NULL;
END $$""",
    """
CREATE TRIGGER tr_measures_reading_keys_remove AFTER DELETE ON measures
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
    EXECUTE FUNCTION reading_keys_of_measures_remove()""",
)


def _month_after(instant: datetime) -> datetime:
    return datetime(instant.year + instant.month // 12, instant.month % 12 + 1, 1, tzinfo=UTC)


def _partition_name(month: datetime) -> str:
    return f"readings_y{month.year:04d}m{month.month:02d}"


def upgrade() -> None:
    bind = op.get_bind()
    # Renaming and attaching need it anyway: taken first, so no writer slips in between.
    op.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
    split = _month_after(datetime.now(UTC))
    op.execute("ALTER TABLE readings RENAME TO readings_history")
    # Readings observed after the split (rare: planned values) go to their months' partitions,
    # so a single far-future reading does not stretch the history over the years before it.
    op.execute("CREATE TEMPORARY TABLE readings_later (LIKE readings_history) ON COMMIT DROP")
    op.execute(f"""
        WITH moved AS (
            DELETE FROM readings_history WHERE observed_at >= '{split.isoformat()}' RETURNING *
        )
        INSERT INTO readings_later SELECT * FROM moved
    """)
    for old, new in (
        ("ix_readings_measure_observed", "readings_history_measure_observed"),
        ("ix_readings_xapi_external_id", "readings_history_xapi_external_id"),
    ):
        op.execute(f"ALTER INDEX {old} RENAME TO {new}")
    # The key table, filled from the old unique constraint's rows before it goes.
    op.execute("""
        CREATE TABLE reading_keys (
            measure_id uuid NOT NULL,
            external_id varchar(200) NOT NULL,
            reading_id uuid NOT NULL,
            observed_at timestamptz NOT NULL)
    """)
    op.execute("""
        INSERT INTO reading_keys
        SELECT measure_id, external_id, id, observed_at FROM readings_history
        WHERE external_id IS NOT NULL
        UNION ALL
        SELECT measure_id, external_id, id, observed_at FROM readings_later
        WHERE external_id IS NOT NULL
    """)
    op.execute(
        "ALTER TABLE reading_keys"
        " ADD CONSTRAINT pk_reading_keys PRIMARY KEY (measure_id, external_id)"
    )
    # The primary key must hold the partition key; the bound lets ATTACH skip its own scan.
    op.execute(f"""
        ALTER TABLE readings_history
            DROP CONSTRAINT uq_readings_measure_id,
            DROP CONSTRAINT pk_readings,
            ADD CONSTRAINT readings_history_pkey PRIMARY KEY (id, observed_at),
            ADD CONSTRAINT ck_readings_history_bound CHECK (observed_at < '{split.isoformat()}')
    """)

    op.execute(f"""
        CREATE TABLE readings ({COLUMNS},
            CONSTRAINT pk_readings PRIMARY KEY (id, observed_at),{CHECKS}
        ) PARTITION BY RANGE (observed_at)
    """)
    for index in INDEXES:
        op.execute(index.format(prefix="ix_readings", table="readings"))
    op.execute(
        "ALTER TABLE readings ATTACH PARTITION readings_history"
        f" FOR VALUES FROM (MINVALUE) TO ('{split.isoformat()}')"
    )
    op.execute("ALTER TABLE readings_history DROP CONSTRAINT ck_readings_history_bound")
    # Never holds a row (ck_readings_observed_at_range): routes such instants to that check,
    # whose error names what is wrong, instead of "no partition found".
    op.execute(
        "CREATE TABLE readings_beyond PARTITION OF readings"
        " FOR VALUES FROM ('2200-01-01T00:00:00Z') TO (MAXVALUE)"
    )
    # The month of the split and the next two (the worker keeps creating ahead from there),
    # and those of the readings observed later.
    months = {split, _month_after(split), _month_after(_month_after(split))}
    later = bind.execute(
        text("SELECT DISTINCT date_trunc('month', observed_at, 'UTC') FROM readings_later")
    ).scalars()
    months.update(month.astimezone(UTC) for month in later)
    for month in sorted(months):
        op.execute(
            f"CREATE TABLE {_partition_name(month)} PARTITION OF readings"
            f" FOR VALUES FROM ('{month.isoformat()}') TO ('{_month_after(month).isoformat()}')"
        )
    for statement in KEY_TRIGGER:
        op.execute(statement)
    op.execute("INSERT INTO readings SELECT * FROM readings_later")


def downgrade() -> None:
    """Back to one plain table: a full copy (the keys live in it again)."""
    op.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
    op.execute(f"CREATE TABLE readings_plain ({COLUMNS})")
    op.execute("INSERT INTO readings_plain SELECT * FROM readings")
    op.execute("DROP TABLE readings CASCADE")
    op.execute("DROP TABLE reading_keys")
    op.execute("DROP TRIGGER tr_measures_reading_keys_remove ON measures")
    op.execute("DROP FUNCTION reading_keys_remove(), reading_keys_of_measures_remove()")
    op.execute("ALTER TABLE readings_plain RENAME TO readings")
    op.execute(f"""
        ALTER TABLE readings
            ADD CONSTRAINT pk_readings PRIMARY KEY (id),
            ADD CONSTRAINT uq_readings_measure_id UNIQUE (measure_id, external_id),
            {CHECKS.replace("CONSTRAINT", "ADD CONSTRAINT")}
    """)
    for index in INDEXES:
        op.execute(index.format(prefix="ix_readings", table="readings"))
