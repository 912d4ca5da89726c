"""Ingest benchmark: `python -m bench.ingest [--rows N] [--held H] [--clients C] [--statements S]
[--quick]`.

In one run, against one embedded PostgreSQL whose `readings` table already holds N rows (or
`--held` rows, up to 10^8):

(a) raw: asyncpg `copy_records_to_table` of N rows into a copy of `readings` (partitioned the
    same way, same columns and indexes, minus foreign keys and the key table the service keeps
    for idempotency) that holds as many rows, once in one call and once in 5,000-row calls over
    C connections; the faster is the ceiling;
(b) HTTP: `POST /v1/readings/batch` of N readings in batches of 5,000 from C concurrent clients
    against a real `scorecard serve --no-worker` process; each client feeds its own measures (a
    batch locks the measures it writes, so batches for the same measures serialise by design);
(c) xAPI: `POST /xapi/statements` in batches of 100 from C clients, every statement matching a
    measure's mapping (so each also writes a reading).

Prints rows/s, the HTTP/raw ratio (target ≥ 40%), the server's peak RSS (target ≤ 300 MB) and
statements/s (target ≥ 2,000/s); writes the same to bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import psutil
from uuid_utils.compat import uuid7

from bench.common import machine, save_results, scratch_database, serve_flags
from tests.e2e.server import running_server, scorecard_cli

ROOT = Path(__file__).resolve().parents[1]
BATCH = 5_000
XAPI_BATCH = 100
MEASURES_PER_CLIENT = 10
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
COLUMNS = ("id", "measure_id", "value", "observed_at", "source", "external_id", "note")
TARGET_RATIO, TARGET_RSS_MB, TARGET_XAPI = 0.40, 300, 2_000


@dataclass(frozen=True)
class Plan:
    rows: int
    clients: int
    statements: int
    held: int  # rows `readings` holds before the run (and the raw copies)


def parse_args(argv: list[str] | None) -> tuple[Plan, bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="N (default 1,000,000)")
    parser.add_argument(
        "--held",
        type=lambda text: int(float(text)),
        default=None,
        help="rows the table holds before the run, up to 1e8 (default: N)",
    )
    parser.add_argument("--clients", type=int, default=3, help="concurrent clients (default 3)")
    parser.add_argument(
        "--statements", type=int, default=50_000, help="xAPI statements (default 50,000)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 50,000 rows, 5,000 statements"
    )
    args = parser.parse_args(argv)
    if args.quick:
        return Plan(rows=50_000, clients=args.clients, statements=5_000, held=50_000), True
    if args.rows < BATCH or args.statements < XAPI_BATCH or args.clients < 1:
        parser.error(f"--rows must be ≥ {BATCH}, --statements ≥ {XAPI_BATCH}, --clients ≥ 1")
    if not 0 <= (held := args.held or args.rows) <= 10**8:
        parser.error("--held must be between 0 and 1e8")
    return Plan(args.rows, args.clients, args.statements, held), False


# --- data -----------------------------------------------------------------------------------


def reading_rows(measure_ids: list[uuid.UUID], count: int, tag: str) -> Iterator[tuple[Any, ...]]:
    """`count` readings spread over the measures and the past year, with LMS-style ids."""
    start = datetime.now(UTC) - timedelta(days=365)
    for i in range(count):
        yield (
            uuid7(),
            measure_ids[i % len(measure_ids)],
            float(i % 100),
            start + timedelta(seconds=i * 31_536_000 // count),
            "bench",
            f"{tag}-{i}",
            None,
        )


def batch_bodies(measure_ids: list[uuid.UUID], count: int) -> list[bytes]:
    bodies = []
    for first in range(0, count, BATCH):
        items = [
            {
                "measure_id": str(measure_id),
                "value": value,
                "observed_at": observed_at.isoformat(),
                "source": source,
                "external_id": external_id,
            }
            for _, measure_id, value, observed_at, source, external_id, _ in reading_rows(
                measure_ids, min(BATCH, count - first), f"http-{first}"
            )
        ]
        bodies.append(orjson.dumps({"readings": items}))
    return bodies


def statement_bodies(count: int) -> list[bytes]:
    now = datetime.now(UTC)
    return [
        orjson.dumps(
            [
                {
                    "id": str(uuid.uuid4()),
                    "actor": {"mbox": f"mailto:learner{i}@example.com"},
                    "verb": {"id": COMPLETED, "display": {"en-US": "completed"}},
                    "object": {"id": f"https://lms.example.com/course/{i % 50}"},
                    "result": {"completion": True, "score": {"scaled": 0.8}},
                    "timestamp": (now - timedelta(seconds=i)).isoformat(),
                }
                for i in range(first, min(first + XAPI_BATCH, count))
            ]
        )
        for first in range(0, count, XAPI_BATCH)
    ]


# --- (a) raw COPY ----------------------------------------------------------------------------


async def create_partitioned_copy(conn: asyncpg.Connection, table: str) -> None:
    """An empty `table` partitioned as `readings` is (the same bounds), with its indexes."""
    partitioned = await conn.fetchval(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = 'readings'::regclass"
    )
    if not partitioned:  # a schema from before partitioning
        await conn.execute(f"CREATE TABLE {table} (LIKE readings INCLUDING ALL)")
        return
    await conn.execute(
        f"CREATE TABLE {table} (LIKE readings INCLUDING ALL) PARTITION BY RANGE (observed_at)"
    )
    bounds = await conn.fetch(
        "SELECT pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass"
    )
    for n, row in enumerate(bounds):
        await conn.execute(f"CREATE TABLE {table}_{n} PARTITION OF {table} {row['bound']}")


async def raw_copy(dsn: str, source_measures: list[uuid.UUID], plan: Plan) -> dict[str, float]:
    """rows/s of COPY into fresh copies of `readings` pre-filled with N rows: in one call and in
    5,000-row calls over C connections, without the foreign key to measures (the literal "same
    columns and indexes") and with it (the real table's full shape: every row is checked)."""
    results = {}
    for name, calls, foreign_key in (
        ("one_call", 1, False),
        ("batched", plan.clients, False),
        ("batched_fk", plan.clients, True),
    ):
        table = f"bench_readings_{name}"
        conn = await asyncpg.connect(dsn)
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await create_partitioned_copy(conn, table)
        if foreign_key:
            await conn.execute(
                f"ALTER TABLE {table} ADD FOREIGN KEY (measure_id) "
                "REFERENCES measures (id) ON DELETE CASCADE"
            )
        await conn.execute(f"INSERT INTO {table} SELECT * FROM readings")
        await conn.execute(f"ANALYZE {table}")
        await conn.close()
        rows = list(reading_rows(source_measures, plan.rows, f"raw-{name}"))
        started = time.perf_counter()
        if calls == 1:
            conn = await asyncpg.connect(dsn)
            await conn.copy_records_to_table(table, records=rows, columns=COLUMNS)
            await conn.close()
        else:
            chunks = [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]
            await asyncio.gather(
                *(_copy_chunks(dsn, table, chunks[k::calls]) for k in range(calls))
            )
        results[name] = plan.rows / (time.perf_counter() - started)
        conn = await asyncpg.connect(dsn)
        await conn.execute(f"DROP TABLE {table}")
        await conn.close()
    return results


async def _copy_chunks(dsn: str, table: str, chunks: list[list[tuple[Any, ...]]]) -> None:
    conn = await asyncpg.connect(dsn)
    for chunk in chunks:
        await conn.copy_records_to_table(table, records=chunk, columns=COLUMNS)
    await conn.close()


# --- (b) and (c) over HTTP -------------------------------------------------------------------


async def post_all(
    base_url: str,
    key: str,
    path: str,
    bodies: list[bytes],
    clients: int,
    headers: dict[str, str] | None = None,
) -> float:
    """Seconds to POST every body, `clients` at a time; each client takes the bodies k::clients
    (so with per-client bodies, each client feeds its own measures)."""
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", **(headers or {})}

    async def client(share: list[bytes]) -> None:
        async with httpx.AsyncClient(base_url=base_url, headers=auth, timeout=120) as http:
            for body in share:
                response = await http.post(path, content=body)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:500]}")

    started = time.perf_counter()
    await asyncio.gather(*(client(bodies[k::clients]) for k in range(clients)))
    return time.perf_counter() - started


@contextmanager
def watch(server_pid: int, postgres_pid: int) -> Iterator[dict[str, float]]:
    """While the block runs: the server's peak RSS (with its children, sampled every 50 ms) and
    the CPU seconds the server and PostgreSQL (postmaster and backends) spend."""
    stats = {"peak_mb": 0.0}
    stop = threading.Event()
    server, postgres = psutil.Process(server_pid), psutil.Process(postgres_pid)

    def tree(process: psutil.Process) -> list[psutil.Process]:
        return [process, *process.children(recursive=True)]

    def cpu(process: psutil.Process) -> dict[int, float]:
        times = {}
        for member in tree(process):
            with suppress(psutil.Error):
                times[member.pid] = sum(member.cpu_times()[:2])
        return times

    def sample() -> None:
        while not stop.is_set():
            with suppress(psutil.Error):
                rss = sum(p.memory_info().rss for p in tree(server))
                stats["peak_mb"] = max(stats["peak_mb"], rss / 2**20)
            stop.wait(0.05)

    before = {"server": cpu(server), "postgres": cpu(postgres)}
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield stats
    finally:
        stop.set()
        sampler.join()
        for name, process in (("server", server), ("postgres", postgres)):
            after = cpu(process)
            stats[f"{name}_cpu_s"] = sum(t - before[name].get(pid, 0.0) for pid, t in after.items())


def create_measures(http: httpx.Client, count: int, **fields: Any) -> list[uuid.UUID]:
    scorecard = http.post("/v1/scorecards", json={"name": f"bench {uuid.uuid4().hex[:6]}"})
    scorecard.raise_for_status()
    ids = []
    for i in range(count):
        response = http.post(
            f"/v1/scorecards/{scorecard.json()['id']}/measures",
            json={
                "key": f"m{i}",
                "name": f"Measure {i}",
                "perspective": "learning_growth",
                "direction": "increase",
                "baseline": 0,
                "target": 100,
                "aggregation": "sum",
                **fields,
            },
        )
        response.raise_for_status()
        ids.append(uuid.UUID(response.json()["id"]))
    return ids


# `reading_rows`, generated in the database: 10^8 rows are not sent from here; a million per
# statement.
_PREFILL = """
INSERT INTO readings (id, measure_id, value, observed_at, source, external_id)
SELECT gen_random_uuid(), ($1::uuid[])[1 + g % cardinality($1::uuid[])], (g % 100)::float8,
       $2::timestamptz + make_interval(secs => 31536000.0 * g / $3::bigint), 'bench', 'pre-' || g
FROM generate_series($4::bigint, $5::bigint) g
"""
_PREFILL_CHUNK = 1_000_000


async def prefill(dsn: str, measure_ids: list[uuid.UUID], rows: int) -> None:
    conn = await asyncpg.connect(dsn)
    start = datetime.now(UTC) - timedelta(days=365)
    for first in range(0, rows, _PREFILL_CHUNK):
        last = min(rows, first + _PREFILL_CHUNK) - 1
        await conn.execute(_PREFILL, measure_ids, start, rows, first, last)
    if await conn.fetchval("SELECT to_regclass('reading_keys') IS NOT NULL"):
        # The service writes a reading's key beside it (migration 0014); so does the prefill.
        await conn.execute(
            "INSERT INTO reading_keys SELECT measure_id, external_id, id, observed_at"
            " FROM readings WHERE external_id LIKE 'pre-%'"
        )
    await conn.execute("VACUUM (ANALYZE) readings")
    await conn.close()


async def count_readings(dsn: str, measure_ids: list[uuid.UUID]) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM readings WHERE measure_id = ANY($1::uuid[])", measure_ids
            )
        )
    finally:
        await conn.close()


def run(url: str, postgres_pid: int, plan: Plan) -> dict[str, Any]:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    key = scorecard_cli(
        "api-keys", "create", "--name", "bench", "--scope", "admin", env={"DATABASE_URL": url}
    ).stdout.strip()
    env = {"LOG_LEVEL": "WARNING"}  # no access log: the pipe it goes to is not read meanwhile
    with running_server(url, *serve_flags(), env=env) as (base_url, process):
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as http:
            http_measures = create_measures(http, MEASURES_PER_CLIENT * plan.clients)
            raw_measures = create_measures(http, MEASURES_PER_CLIENT)
            [mapped] = create_measures(
                http, 1, aggregation="count", xapi={"verb": COMPLETED, "value": "count"}
            )
        print(f"pre-filling readings with {plan.held:,} rows…", flush=True)
        asyncio.run(prefill(dsn, raw_measures, plan.held))

        print("(a) raw COPY…", flush=True)
        raw = asyncio.run(raw_copy(dsn, raw_measures, plan))

        print("(b) HTTP batches…", flush=True)
        # Client k's batches (k::clients) name only client k's measures.
        per_client = [http_measures[k :: plan.clients] for k in range(plan.clients)]
        shares = [
            batch_bodies(per_client[k], plan.rows // plan.clients) for k in range(plan.clients)
        ]
        bodies = [body for group in zip(*shares, strict=False) for body in group]
        with watch(process.pid, postgres_pid) as rss:
            seconds = asyncio.run(
                post_all(base_url, key, "/v1/readings/batch", bodies, plan.clients)
            )
        stored = asyncio.run(count_readings(dsn, http_measures))

        print("(c) xAPI statements…", flush=True)
        statements = statement_bodies(plan.statements)
        with watch(process.pid, postgres_pid) as xapi_rss:
            xapi_seconds = asyncio.run(
                post_all(
                    base_url,
                    key,
                    "/xapi/statements",
                    statements,
                    plan.clients,
                    headers={"X-Experience-API-Version": "1.0.3"},
                )
            )
        mapped_readings = asyncio.run(count_readings(dsn, [mapped]))

    http_rows = (plan.rows // plan.clients) * plan.clients
    ceiling = max(raw["one_call"], raw["batched"])
    return {
        "rows": plan.rows,
        "held": plan.held,
        "clients": plan.clients,
        "batch": BATCH,
        "raw_rows_per_s": {k: round(v) for k, v in raw.items()},
        "http_rows_per_s": round(http_rows / seconds),
        "http_rows_stored": stored,
        "ratio": round(http_rows / seconds / ceiling, 3),
        "ratio_to_fk_copy": round(http_rows / seconds / raw["batched_fk"], 3),
        "http_cpu_us_per_row": {
            "server": round(rss["server_cpu_s"] / http_rows * 1e6, 1),
            "postgres": round(rss["postgres_cpu_s"] / http_rows * 1e6, 1),
        },
        "server_peak_rss_mb": round(max(rss["peak_mb"], xapi_rss["peak_mb"]), 1),
        "xapi_statements": plan.statements,
        "xapi_statements_per_s": round(plan.statements / xapi_seconds),
        "xapi_readings_stored": mapped_readings,
    }


def report(result: dict[str, Any]) -> None:
    raw = result["raw_rows_per_s"]
    print(
        f"\nreadings table pre-filled with {result['held']:,} rows; "
        f"{result['clients']} clients; batches of {result['batch']:,}"
    )
    print(f"(a) raw COPY, one call            {raw['one_call']:>10,} rows/s")
    print(f"(a) raw COPY, {BATCH:,}-row calls      {raw['batched']:>10,} rows/s")
    print(f"(a) … with readings' foreign key  {raw['batched_fk']:>10,} rows/s")
    print(
        f"(b) HTTP /v1/readings/batch       {result['http_rows_per_s']:>10,} rows/s "
        f"({result['http_rows_stored']:,} stored)"
    )
    cpu = result["http_cpu_us_per_row"]
    print(f"    CPU per row: server {cpu['server']} µs, PostgreSQL {cpu['postgres']} µs")
    print(
        f"(c) HTTP /xapi/statements         {result['xapi_statements_per_s']:>10,} statements/s "
        f"({result['xapi_readings_stored']:,} readings)"
    )
    checks: list[tuple[str, str, str, bool | None]] = [
        (
            "HTTP / best raw",
            f"{result['ratio']:.0%}",
            f"≥ {TARGET_RATIO:.0%}",
            result["ratio"] >= TARGET_RATIO,
        ),
        ("HTTP / raw with FK", f"{result['ratio_to_fk_copy']:.0%}", "none (reference)", None),
        (
            "server peak RSS",
            f"{result['server_peak_rss_mb']:.0f} MB",
            f"≤ {TARGET_RSS_MB} MB",
            result["server_peak_rss_mb"] <= TARGET_RSS_MB,
        ),
        (
            "xAPI statements/s",
            f"{result['xapi_statements_per_s']:,}",
            f"≥ {TARGET_XAPI:,}",
            result["xapi_statements_per_s"] >= TARGET_XAPI,
        ),
    ]
    print()
    for name, measured, target, ok in checks:
        verdict = "info" if ok is None else "PASS" if ok else "MISS"
        print(f"  {verdict}  {name:<20} {measured:>10}   target {target}")


def main(argv: list[str] | None = None) -> int:

    plan, quick = parse_args(argv)
    with scratch_database("scorecard-bench-ingest-") as (url, data_dir):
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
        result = run(url, postmaster, plan)
    result["machine"] = machine()
    report(result)
    out = save_results("ingest", result, quick=quick)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
