"""Due readings benchmark: `python -m bench.due [--quick]`.

One scratch database with 10,000 scheduled measures (100 scorecards of 100 in five zones, with
Berlin and Santiago among them; cadences month, week, quarter and day; due 5 days after the
period) and two years of readings, one a month per measure, so that about a third of the last
ended periods are unreported. `scorecard serve --workers 1 --no-worker` and the bare baseline
(`bench/baseline_app.py`: FastAPI + asyncpg running only `SELECT count(*)` of the scheduled
measures) run side by side; requests alternate between them at concurrency 1 (persistent
clients, after a warm-up), so drift in the machine's speed hits both alike:

- GET /v1/readings/due (first page, 50), ?limit=200, ?scorecard_id= (one scorecard),
  ?state=overdue&owner= (a filter that keeps few rows);
- the baseline's bare count.

Also the due statement alone on asyncpg (no HTTP), to show where the time goes. Target: p50 of
the first page ≤ 50 ms. Results: bench/results/due.json (due-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from bench.baseline_app import SCHEDULED_COUNT, asyncpg_dsn
from bench.common import machine, save_results, scratch_database
from tests.e2e.server import running_http_process

SCORECARDS, MEASURES_PER_SCORECARD, MONTHS_OF_READINGS = 100, 100, 24
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "America/Santiago")
CADENCES = ("month", "month", "week", "quarter", "month", "day")
TARGET_P50_MS = 50.0
SERVE = ("-m", "app", "serve", "--workers", "1", "--no-migrate", "--no-worker")
BASELINE = ("-m", "uvicorn", "bench.baseline_app:app", "--workers", "1", "--http", "httptools")
BASELINE += ("--log-level", "warning", "--no-access-log")


async def seed(url: str) -> tuple[str, str]:
    """The measures and readings through SQL (the definitions are all alike and valid); the
    read key through the service. Returns (api key, one scorecard id)."""
    from app.auth.keys import Scope, create_api_key
    from app.core.database import make_engine, make_sessionmaker

    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            _, api_key = await create_api_key(session, "bench", Scope.read)
            await session.commit()
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(
            """
            INSERT INTO scorecards (id, name, timezone, thresholds, score_cap, perspectives)
            SELECT gen_random_uuid(), 'Bench ' || n, ($1::text[])[1 + n % array_length($1, 1)],
                '{"green": 90, "amber": 70}', 100,
                '[{"key": "financial", "name": "Financial", "weight": 1}]'
            FROM generate_series(1, $2) n
            """,
            list(ZONES),
            SCORECARDS,
        )
        await connection.execute(
            """
            INSERT INTO measures (id, scorecard_id, key, name, owner, perspective, weight,
                direction, baseline, target, aggregation, cadence, prorate, status,
                due_after_days)
            SELECT gen_random_uuid(), s.id, 'm-' || n, 'Measure ' || n, 'Owner ' || n % 7,
                'financial', 1, 'increase', 0, 100, 'latest',
                ($1::text[])[1 + n % array_length($1, 1)], false, 'no_data', 5
            FROM scorecards s, generate_series(1, $2) n
            """,
            list(CADENCES),
            MEASURES_PER_SCORECARD,
        )
        # One reading a month per measure, on a day of the month that depends on the measure:
        # some measures' last ended period has one, others not yet.
        await connection.execute(
            """
            INSERT INTO readings (id, measure_id, value, observed_at, source)
            SELECT gen_random_uuid(), m.id, g, now() - g * interval '30 days'
                - (abs(hashtext(m.id::text)) % 45) * interval '1 day', 'bench'
            FROM measures m, generate_series(0, $1 - 1) g
            """,
            MONTHS_OF_READINGS,
        )
        await connection.execute("ANALYZE")
        scorecard_id = await connection.fetchval("SELECT id FROM scorecards LIMIT 1")
    finally:
        await connection.close()
    return api_key, str(scorecard_id)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "n": len(ordered),
    }


async def measure(
    targets: list[tuple[str, httpx.AsyncClient, str]], warmup: int, requests: int
) -> dict[str, dict[str, float]]:
    """p50/p99 of each target at concurrency 1, the targets' requests interleaved."""
    samples: dict[str, list[float]] = {label: [] for label, _, _ in targets}
    for i in range(warmup + requests):
        for label, client, path in targets:
            started = time.perf_counter()
            response = await client.get(path)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"{label}: {response.status_code} {response.text[:300]}")
            if i >= warmup:
                samples[label].append(elapsed)
    return {label: percentiles(values) for label, values in samples.items()}


async def statement_alone(url: str, repeats: int) -> dict[str, Any]:
    """The due statement (first page) and the bare count, on one asyncpg connection."""
    from app.readings.due import list_due

    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        now = datetime.now(UTC)
        timings: dict[str, list[float]] = {"due statement (50)": [], "bare count": []}
        rows = 0
        for _ in range(repeats):
            started = time.perf_counter()
            page, _ = await list_due(connection, now, filters={}, limit=50, cursor=None)
            timings["due statement (50)"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await connection.fetchval(SCHEDULED_COUNT)
            timings["bare count"].append(time.perf_counter() - started)
            rows = len(page)
        scheduled = await connection.fetchval(SCHEDULED_COUNT)
        total_due = 0
        cursor = None
        while True:
            page, cursor = await list_due(connection, now, filters={}, limit=200, cursor=cursor)
            total_due += len(page)
            if cursor is None:
                break
        return {
            "timings": {label: percentiles(values) for label, values in timings.items()},
            "page_rows": rows,
            "scheduled_measures": scheduled,
            "listed_due_or_overdue": total_due,
        }
    finally:
        await connection.close()


async def run(url: str, quick: bool) -> dict[str, Any]:
    api_key, scorecard_id = await seed(url)
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    warmup, requests = (10, 50) if quick else (50, 400)
    with ExitStack() as stack:
        ours, _ = stack.enter_context(running_http_process([sys.executable, *SERVE], env=env))
        bare, _ = stack.enter_context(running_http_process([sys.executable, *BASELINE], env=env))
        headers = {"Authorization": f"Bearer {api_key}"}
        async with (
            httpx.AsyncClient(base_url=ours, headers=headers, timeout=30) as client,
            httpx.AsyncClient(base_url=bare, timeout=30) as baseline,
        ):
            http = await measure(
                [
                    ("GET /v1/readings/due (50)", client, "/v1/readings/due"),
                    ("baseline: bare count", baseline, "/measures/scheduled/count"),
                    ("GET /v1/readings/due?limit=200", client, "/v1/readings/due?limit=200"),
                    (
                        "GET /v1/readings/due?scorecard_id=",
                        client,
                        f"/v1/readings/due?scorecard_id={scorecard_id}",
                    ),
                    (
                        "GET /v1/readings/due?state=overdue&owner=",
                        client,
                        "/v1/readings/due?state=overdue&owner=Owner%203",
                    ),
                ],
                warmup,
                requests,
            )
    alone = await statement_alone(url, 20 if quick else 100)
    first_page = http["GET /v1/readings/due (50)"]["p50_ms"]
    return {
        "machine": machine(),
        "measures": SCORECARDS * MEASURES_PER_SCORECARD,
        "http": http,
        "sql": alone,
        "target_p50_ms": TARGET_P50_MS,
        "verdict": "PASS" if first_page <= TARGET_P50_MS else "MISS",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.due", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: few requests")
    args = parser.parse_args(argv)
    with scratch_database("scorecard-bench-due-") as (url, _):
        result = asyncio.run(run(url, args.quick))
    print(f"\n{'endpoint (concurrency 1)':<44}{'p50 ms':>10}{'p99 ms':>10}")
    for label, figures in result["http"].items():
        print(f"{label:<44}{figures['p50_ms']:>10}{figures['p99_ms']:>10}")
    print("\nstatement alone (asyncpg):")
    for label, figures in result["sql"]["timings"].items():
        print(f"  {label:<42}{figures['p50_ms']:>10}{figures['p99_ms']:>10}")
    print(
        f"\n{result['sql']['listed_due_or_overdue']:,} of "
        f"{result['sql']['scheduled_measures']:,} scheduled measures owe a reading"
    )
    print(f"target: p50 of the first page <= {TARGET_P50_MS} ms: {result['verdict']}")
    print(f"written to {save_results('due', result, quick=args.quick)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
