"""The service behind a real PgBouncer in transaction mode (SCORECARD_DB_PGBOUNCER): writes,
reads and score reads from many clients over two shared server connections, with migrations
and the worker's LISTEN on a direct connection (SCORECARD_DIRECT_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.pgbouncer import PGBOUNCER, running_pgbouncer
from tests.e2e.server import running_server, scorecard_cli
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.skipif(PGBOUNCER is None, reason="pgbouncer is not installed")

CONCURRENCY = 16
AS_OF = "as_of=2026-12-01T00:00:00Z"


async def gather_in_batches(calls, size: int = CONCURRENCY) -> list[httpx.Response]:
    answers: list[httpx.Response] = []
    for start in range(0, len(calls), size):
        answers += await asyncio.gather(*(call() for call in calls[start : start + size]))
    return answers


async def listening_backends(database_url: str) -> list[str]:
    """What the worker's LISTEN connections run, as PostgreSQL itself sees them."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT query FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = 'scorecard-worker-listen'"
                )
            )
            return [query for (query,) in rows]
    finally:
        await engine.dispose()


async def test_the_service_works_behind_pgbouncer_in_transaction_mode(clean_db, client):
    receiver = Receiver()
    env = {
        "SCORECARD_DB_PGBOUNCER": "true",
        "SCORECARD_DIRECT_DATABASE_URL": clean_db,
        "SCORECARD_WEBHOOK_ALLOW_PRIVATE": "true",
        "SCORECARD_DB_POOL_SIZE": "8",
        "SCORECARD_SCORE_CACHE_SECONDS": "0",  # every score read is a query
    }
    try:
        with running_pgbouncer(clean_db, server_connections=2) as pooler:
            # The CLI goes through the pooler too.
            created = scorecard_cli(
                "api-keys", "create", "--name", "pooled", "--scope", "admin",
                env={"DATABASE_URL": pooler.url, "SCORECARD_DB_PGBOUNCER": "true"},
            )  # fmt: skip
            assert created.returncode == 0, created.stderr
            headers = {"Authorization": f"Bearer {created.stdout.strip()}"}
            # serve's in-process worker and a `scorecard worker` of its own, as deployed.
            with (
                running_server(pooler.url, env=env) as (base_url, process),
                worker_process(pooler.url, env) as worker,
            ):
                async with httpx.AsyncClient(
                    base_url=base_url, headers=headers, timeout=30
                ) as http:
                    await exercise(http, client, receiver)
                    log = Path(process.log_path).read_text()
                    # Both workers LISTEN on PostgreSQL itself, not through the pooler...
                    listening = await listening_backends(clean_db)
                    assert [q.split()[0] for q in listening] == ["LISTEN", "LISTEN"]
                    # ...which the API does use: without it, the API has no database, while
                    # the workers' LISTEN connections are still there.
                    pooler.stop()
                    assert (await http.get("/v1/scorecards")).status_code == 503
                    assert len(await listening_backends(clean_db)) == 2
                    assert worker.poll() is None
        assert '"level": "error"' not in log, log[-3000:]
    finally:
        receiver.close()


@contextmanager
def worker_process(database_url: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        env={**os.environ, **env, "DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def exercise(http: httpx.AsyncClient, direct: httpx.AsyncClient, receiver) -> None:
    scorecard = (await http.post("/v1/scorecards", json={"name": "Pooled"})).json()
    measures = await gather_in_batches(
        [
            lambda n=n: http.post(
                f"/v1/scorecards/{scorecard['id']}/measures",
                json={
                    "key": f"m{n}",
                    "name": f"Measure {n}",
                    "perspective": "customer",
                    "direction": "increase",
                    "baseline": 0,
                    "target": 100,
                },
            )
            for n in range(4)
        ]
    )
    assert [m.status_code for m in measures] == [201] * 4
    measure_ids = [m.json()["id"] for m in measures]

    def reading(measure_id: str, n: int):
        return lambda: http.post(
            f"/v1/measures/{measure_id}/readings",
            json={
                "value": n % 100,
                "observed_at": f"2026-{1 + n % 11:02d}-{1 + n % 28:02d}T10:00:00Z",
                "external_id": f"r{n}",
            },
        )

    writes = [reading(measure_ids[n % 4], n) for n in range(120)]
    assert {r.status_code for r in await gather_in_batches(writes)} == {201}
    # Retried writes are recognised (idempotency by external id), not stored twice.
    assert {r.status_code for r in await gather_in_batches(writes[:32])} == {200}
    batch = await http.post(
        "/v1/readings/batch",
        json={
            "readings": [
                {"measure_id": measure_ids[0], "value": n, "observed_at": "2026-11-30T10:00:00Z"}
                for n in range(200)
            ]
        },
    )
    assert batch.json() == {"created": 200, "duplicates": 0}
    renamed = await http.patch(
        f"/v1/measures/{measure_ids[1]}",
        json={"name": "Renamed"},
        headers={"If-Match": measures[1].headers["etag"]},
    )
    assert renamed.status_code == 200, renamed.text

    # Score and list reads, many at once, agree with the same reads made directly.
    reads = [
        lambda: http.get(f"/v1/scorecards/{scorecard['id']}/score?{AS_OF}"),
        *(lambda m=m: http.get(f"/v1/measures/{m}/score?{AS_OF}") for m in measure_ids),
        *(lambda m=m: http.get(f"/v1/measures/{m}/readings?limit=50") for m in measure_ids),
    ]
    pooled = await gather_in_batches(reads * 20)
    assert {r.status_code for r in pooled} == {200}
    for answer in pooled[: len(reads)]:
        path = answer.request.url.raw_path.decode()
        assert (await direct.get(path)).json() == answer.json(), path
    assert [await count_readings(direct, m) for m in measure_ids] == [30 + 200, 30, 30, 30]

    # Webhooks: the event is written through the pooler, the worker delivers it.
    webhook = (await http.post("/v1/webhooks", json={"url": receiver.url})).json()
    assert (await http.post(f"/v1/webhooks/{webhook['id']}/test")).status_code == 202
    await receiver.wait_for(1, timeout=15)


async def count_readings(http: httpx.AsyncClient, measure_id: str) -> int:
    count, cursor = 0, ""
    while True:
        page = (
            await http.get(f"/v1/measures/{measure_id}/readings", params={"cursor": cursor})
        ).json()
        count += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return count
