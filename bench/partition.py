"""Converting `readings` to the partitioned table: `python -m bench.partition [--sizes 1e6,1e7]`.

For each size, an embedded PostgreSQL at the schema before partitioning (revision 0012) gets
`size` readings over 1,000 measures, spread over the 24 months ending now, half of them with an
external_id (what the key table must index), with the table's indexes built after the load.
Then, on the same rows, in the same run:

- baseline: `CREATE TABLE … AS SELECT * FROM readings`, a plain copy of the rows (no index);
- attach: the migration itself (`alembic upgrade 0014`): the table becomes the history
  partition, with the primary key (id, observed_at) and the key table built beside it;
- copy: what a full copy into monthly partitions costs instead: a partitioned table with one
  partition per month, `INSERT … SELECT` of every row, then the same indexes and key table.

Every figure is seconds per 10^7 readings and a ratio to the baseline. Also, on the monthly
copy: what a lookup by id alone costs (one probe per partition) against the plain table's; and
what the write path's COPY of new readings costs before the migration and after it (with the
key table).
The migration holds an exclusive lock on the readings throughout (reads and writes wait): its
time is the outage.
Writes bench/results/partition.json.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.baseline_app import asyncpg_dsn
from bench.common import machine, save_results, scratch_database_at
from bench.scores import ReadingsIndexes

MEASURES = 1_000

_SCORECARD = """
INSERT INTO scorecards (id, name, timezone, thresholds, score_cap, perspectives)
VALUES ('00000000-0000-7000-8000-000000000001', 'Bench', 'UTC', '{"green": 90, "amber": 70}',
        100, '[{"key": "customer", "name": "Customer", "weight": 1}]')
"""
_MEASURES = """
INSERT INTO measures (id, scorecard_id, key, name, perspective, weight, direction, baseline,
                      target, aggregation, cadence, prorate)
SELECT gen_random_uuid(), '00000000-0000-7000-8000-000000000001', 'm-' || g, 'M ' || g,
       'customer', 1, 'increase', 0, 100, 'sum', 'month', false
FROM generate_series(1, $1::int) g
"""
# Half the readings carry an external_id, as an LMS's pushes do.
_FILL = """
INSERT INTO readings (id, measure_id, value, observed_at, source, external_id)
SELECT gen_random_uuid(), m.id, (g % 100)::float8,
       $1::timestamptz - make_interval(secs => 63072000.0 * random()),
       'lms', CASE WHEN g % 2 = 0 THEN 'e-' || g END
FROM (SELECT id FROM measures) m
CROSS JOIN generate_series(1, $2::int) g
"""


def parse_sizes(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        value = float(part)
        if not 1e4 <= value <= 1e8:
            raise argparse.ArgumentTypeError(f"size {part!r} must be between 1e4 and 1e8")
        sizes.append(int(value))
    return sorted(set(sizes))


async def _timed(conn: asyncpg.Connection, *statements: str) -> float:
    started = time.perf_counter()
    for statement in statements:
        await conn.execute(statement)
    return time.perf_counter() - started


async def load(url: str, size: int) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(_SCORECARD)
        await conn.execute(_MEASURES, MEASURES)
        await conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = await ReadingsIndexes.capture(conn)
        await indexes.drop(conn)
        await conn.execute(_FILL, datetime.now(UTC), max(1, size // MEASURES))
        await indexes.create(conn)
        await conn.execute("VACUUM (ANALYZE) readings")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def baseline(url: str) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        seconds = await _timed(conn, "CREATE TABLE readings_ctas AS SELECT * FROM readings")
        await conn.execute("DROP TABLE readings_ctas")
        await conn.execute("CHECKPOINT")
        return seconds
    finally:
        await conn.close()


async def full_copy(url: str) -> tuple[float, dict[str, Any]]:
    """A partitioned copy with a partition per month (then dropped: the migration runs next)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        started = time.perf_counter()
        await conn.execute(
            "CREATE TABLE readings_copy (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            " PARTITION BY RANGE (observed_at)"
        )
        first, last = await conn.fetchrow(
            "SELECT date_trunc('month', min(observed_at), 'UTC'),"
            " date_trunc('month', max(observed_at), 'UTC') FROM readings"
        )
        month, n = first, 0
        while month <= last:
            following = await conn.fetchval("SELECT $1::timestamptz + interval '1 month'", month)
            await conn.execute(
                f"CREATE TABLE readings_copy_{n} PARTITION OF readings_copy"
                f" FOR VALUES FROM ('{month.isoformat()}') TO ('{following.isoformat()}')"
            )
            month, n = following, n + 1
        await conn.execute("INSERT INTO readings_copy SELECT * FROM readings")
        await conn.execute("ALTER TABLE readings_copy ADD PRIMARY KEY (id, observed_at)")
        await conn.execute(
            "CREATE INDEX ON readings_copy (measure_id, observed_at DESC) INCLUDE (value)"
        )
        await conn.execute("CREATE INDEX ON readings_copy (external_id) WHERE source = 'xapi'")
        await conn.execute(
            "CREATE TABLE reading_keys_copy AS SELECT measure_id, external_id, id AS reading_id,"
            " observed_at FROM readings_copy WHERE external_id IS NOT NULL"
        )
        await conn.execute(
            "ALTER TABLE reading_keys_copy ADD PRIMARY KEY (measure_id, external_id)"
        )
        seconds = time.perf_counter() - started
        await conn.execute("VACUUM (ANALYZE) readings_copy")
        lookups = await lookup_by_id(conn, n)
        await conn.execute("DROP TABLE readings_copy, reading_keys_copy")
        await conn.execute("CHECKPOINT")
        return seconds, lookups
    finally:
        await conn.close()


async def lookup_by_id(conn: asyncpg.Connection, partitions: int) -> dict[str, Any]:
    """What `GET /v1/readings/{id}` costs in the database: a reading by id alone, in the plain
    table (one primary key index) and in the monthly copy (one probe per partition), the same
    ids in the same order, interleaved, best of 3 rounds; µs per lookup."""
    ids = [
        r["id"] for r in await conn.fetch("SELECT id FROM readings ORDER BY random() LIMIT 2000")
    ]
    plain = await conn.prepare("SELECT value FROM readings WHERE id = $1")
    monthly = await conn.prepare("SELECT value FROM readings_copy WHERE id = $1")
    best = {"plain": float("inf"), "monthly": float("inf")}
    for _ in range(3):
        for name, statement in (("plain", plain), ("monthly", monthly)):
            started = time.perf_counter()
            for reading_id in ids:
                await statement.fetchval(reading_id)
            best[name] = min(best[name], (time.perf_counter() - started) / len(ids) * 1e6)
    return {
        "partitions": partitions,
        "plain_us": round(best["plain"], 1),
        "monthly_us": round(best["monthly"], 1),
        "monthly_vs_plain": round(best["monthly"] / best["plain"], 2),
    }


def attach(url: str) -> float:
    from app.core.migrate import upgrade

    started = time.perf_counter()
    upgrade(url, "0014")
    return time.perf_counter() - started


_WRITE_COLUMNS = ("id", "measure_id", "value", "observed_at", "source", "external_id")


async def write_cost(url: str, rows: int = 100_000) -> float:
    """COPY of `rows` new readings (with external_ids, in the current month) as the write path
    does it: into `readings` alone before the migration (its unique constraint finds repeats),
    into `readings` and their keys into `reading_keys` after it; foreign keys included. Each
    in a transaction rolled back, best of 3; rows/s."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        measures = [r["id"] for r in await conn.fetch("SELECT id FROM measures LIMIT 100")]
        partitioned = await conn.fetchval("SELECT to_regclass('reading_keys') IS NOT NULL")
        now = datetime.now(UTC)
        records = [
            (uuid.uuid4(), measures[i % len(measures)], float(i), now, "bench", f"w-{i}")
            for i in range(rows)
        ]
        keys = [(r[1], r[5], r[0], r[3]) for r in records]  # measure, external_id, id, time
        best = 0.0
        for _ in range(3):
            transaction = conn.transaction()
            await transaction.start()
            started = time.perf_counter()
            await conn.copy_records_to_table("readings", records=records, columns=_WRITE_COLUMNS)
            if partitioned:
                await conn.copy_records_to_table(
                    "reading_keys",
                    records=keys,
                    columns=("measure_id", "external_id", "reading_id", "observed_at"),
                )
            best = max(best, rows / (time.perf_counter() - started))
            await transaction.rollback()
        return best
    finally:
        await conn.close()


def run_size(size: int) -> dict[str, Any]:
    with scratch_database_at("scorecard-bench-partition-", "0012") as (url, _):
        print(f"\n== {size:,} readings: loading …", flush=True)
        asyncio.run(load(url, size))
        stored = size // MEASURES * MEASURES
        per = 1e7 / stored
        base = asyncio.run(baseline(url))
        copy, lookups = asyncio.run(full_copy(url))
        writes_before = asyncio.run(write_cost(url))
        attached = attach(url)
        writes_after = asyncio.run(write_cost(url))
    result = {
        "readings": stored,
        "baseline_ctas_s_per_1e7": round(base * per, 1),
        "copy_s_per_1e7": round(copy * per, 1),
        "attach_migration_s_per_1e7": round(attached * per, 1),
        "copy_vs_baseline": round(copy / base, 2),
        "attach_vs_baseline": round(attached / base, 2),
        "lookup_by_id": lookups,
        "write_copy_rows_s_before": round(writes_before),
        "write_copy_rows_s_after": round(writes_after),
        "write_copy_after_vs_before": round(writes_after / writes_before, 2),
    }
    for name, value in result.items():
        print(f"   {name:<28} {value}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.partition", description=__doc__)
    parser.add_argument("--sizes", type=parse_sizes, default=[1_000_000])
    parser.add_argument("--quick", action="store_true", help="one small size (1e5)")
    args = parser.parse_args(argv)
    sizes = [100_000] if args.quick else args.sizes
    results = [run_size(size) for size in sizes]
    out = save_results("partition", {"machine": machine(), "results": results}, quick=args.quick)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
