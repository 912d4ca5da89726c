"""The baseline for `bench.scores`: a bare FastAPI endpoint that runs only the single LATERAL
"latest reading per measure" query through asyncpg and returns its rows.

    DATABASE_URL=... uvicorn bench.baseline_app:app --workers 1

No auth, no ORM, no scoring: it is the floor the score endpoint is compared against.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

LATEST_PER_MEASURE = """
SELECT m.id, latest.value, latest.observed_at
FROM measures m
LEFT JOIN LATERAL (
    SELECT r.value, r.observed_at
    FROM readings r
    WHERE r.measure_id = m.id
    ORDER BY r.observed_at DESC
    LIMIT 1
) latest ON true
WHERE m.scorecard_id = $1
"""


def asyncpg_dsn(url: str) -> str:
    """asyncpg takes `postgresql://`; the service's URLs carry SQLAlchemy's `+asyncpg`."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def bare_app(pool_size: int) -> FastAPI:
    """A FastAPI app with nothing but a plain asyncpg pool (`app.state.pool`) to DATABASE_URL."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            asyncpg_dsn(os.environ["DATABASE_URL"]), min_size=1, max_size=pool_size
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    return FastAPI(lifespan=lifespan, openapi_url=None)


app = bare_app(pool_size=10)


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b'{"status":"pass"}', media_type="application/json")


@app.get("/v1/scorecards/{scorecard_id}/latest")
async def latest(scorecard_id: uuid.UUID, request: Request) -> Response:
    async with request.app.state.pool.acquire() as connection:
        rows = await connection.fetch(LATEST_PER_MEASURE, scorecard_id)
    body = [{"measure_id": str(row[0]), "value": row[1], "observed_at": row[2]} for row in rows]
    return Response(orjson.dumps(body), media_type="application/json")


# For `bench.due`: the bare count of scheduled measures, the floor of the due list.
SCHEDULED_COUNT = "SELECT count(*) FROM measures WHERE due_after_days IS NOT NULL"


@app.get("/measures/scheduled/count")
async def scheduled_count(request: Request) -> Response:
    async with request.app.state.pool.acquire() as connection:
        count = await connection.fetchval(SCHEDULED_COUNT)
    return Response(orjson.dumps({"count": count}), media_type="application/json")
