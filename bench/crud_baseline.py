"""The baseline for `bench.crud`: bare FastAPI + asyncpg endpoints for the CRUD reads and two
writes. Each checks the API key as the service does (SHA-256 of the bearer token looked up in
api_keys, scope checked) and returns the same rows with the same fields (jsonb parsed, lists
as {"items", "next_cursor"}), serialised with orjson. No ORM, no middleware, no validation
beyond parsing.

    DATABASE_URL=... uvicorn bench.crud_baseline:app --workers 1
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from fastapi import HTTPException, Request
from fastapi.responses import Response

from bench.baseline_app import bare_app

SCORECARD = (
    "id, name, description, owner, timezone, thresholds, score_cap, perspectives, "
    "locked_before, commentary_required_for, version, created_at, updated_at"
)
OBJECTIVE = (
    "id, scorecard_id, perspective, name, description, weight, "
    "ARRAY(SELECT d.drives_id FROM objective_drives d "
    "WHERE d.objective_id = objectives.id ORDER BY d.drives_id) AS drives, "
    "version, created_at, updated_at"
)
MEASURE = (
    "id, scorecard_id, key, name, description, unit, owner, perspective, objective_id, weight, "
    "direction, baseline, target, target_min, target_max, tolerance, aggregation, cadence, "
    "prorate, thresholds, formula, "
    "CASE WHEN num_nonnulls(source_measure_id, source_scorecard_id) > 0 THEN json_build_object("
    "'measure_id', source_measure_id, 'scorecard_id', source_scorecard_id)::text END AS source, "
    "xapi, level, targets, due_after_days, status, version, created_at, updated_at"
)
READING = "id, measure_id, value, observed_at, source, external_id, note, subject, created_at"
# The jsonb (and json) columns of each, parsed as the service does.
SCORECARD_JSONB = ("thresholds", "perspectives", "commentary_required_for")
MEASURE_JSONB = ("thresholds", "xapi", "targets", "source")
GRANTS = {"read": {"admin", "write", "read"}, "write": {"admin", "write"}}
GRANTS["ingest"] = {"admin", "write", "ingest"}


app = bare_app(pool_size=5)


def _default(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def _json(content: Any, status: int = 200) -> Response:
    body = orjson.dumps(content, default=_default, option=orjson.OPT_UTC_Z)
    return Response(body, status_code=status, media_type="application/json")


def _row(record: asyncpg.Record, jsonb: tuple[str, ...] = ()) -> dict[str, Any]:
    row = dict(record)
    for name in jsonb:
        if name in row and row[name] is not None:
            row[name] = orjson.loads(row[name])
    return row


async def _check_key(request: Request, connection: asyncpg.Connection, needs: str) -> None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise HTTPException(401)
    digest = hashlib.sha256(key.strip().encode()).hexdigest()
    scope = await connection.fetchval("SELECT scope FROM api_keys WHERE key_hash = $1", digest)
    if scope not in GRANTS[needs]:
        raise HTTPException(401 if scope is None else 403)


async def _one(
    request: Request, sql: str, row_id: uuid.UUID, jsonb: tuple[str, ...] = ()
) -> Response:
    async with request.app.state.pool.acquire() as connection:
        await _check_key(request, connection, "read")
        record = await connection.fetchrow(sql, row_id)
    if record is None:
        raise HTTPException(404)
    row = _row(record, jsonb)
    response = _json(row)
    if "version" in row:
        response.headers["ETag"] = f'"{row["version"]}"'
    return response


def _page(
    records: list[asyncpg.Record], limit: int, keys: tuple[str, ...], jsonb: tuple[str, ...] = ()
) -> Response:
    rows = [_row(r, jsonb) for r in records[:limit]]
    cursor = None
    if len(records) > limit:
        raw = orjson.dumps([str(rows[-1][k]) for k in keys])
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return _json({"items": rows, "next_cursor": cursor})


async def _list(request: Request, sql: str, *args: Any) -> list[asyncpg.Record]:
    async with request.app.state.pool.acquire() as connection:
        await _check_key(request, connection, "read")
        return list(await connection.fetch(sql, *args))


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b'{"status":"pass"}', media_type="application/json")


@app.get("/v1/scorecards/{row_id}")
async def scorecard(row_id: uuid.UUID, request: Request) -> Response:
    return await _one(
        request, f"SELECT {SCORECARD} FROM scorecards WHERE id = $1", row_id, SCORECARD_JSONB
    )


@app.get("/v1/objectives/{row_id}")
async def objective(row_id: uuid.UUID, request: Request) -> Response:
    return await _one(request, f"SELECT {OBJECTIVE} FROM objectives WHERE id = $1", row_id)


@app.get("/v1/measures/{row_id}")
async def measure(row_id: uuid.UUID, request: Request) -> Response:
    return await _one(
        request, f"SELECT {MEASURE} FROM measures WHERE id = $1", row_id, MEASURE_JSONB
    )


@app.get("/v1/readings/{row_id}")
async def reading(row_id: uuid.UUID, request: Request) -> Response:
    return await _one(request, f"SELECT {READING} FROM readings WHERE id = $1", row_id)


@app.get("/v1/scorecards")
async def scorecards(request: Request, limit: int = 50) -> Response:
    sql = f"SELECT {SCORECARD} FROM scorecards ORDER BY id LIMIT $1"
    return _page(await _list(request, sql, limit + 1), limit, ("id",), SCORECARD_JSONB)


@app.get("/v1/scorecards/{row_id}/objectives")
async def objectives(row_id: uuid.UUID, request: Request, limit: int = 50) -> Response:
    sql = f"SELECT {OBJECTIVE} FROM objectives WHERE scorecard_id = $1 ORDER BY id LIMIT $2"
    return _page(await _list(request, sql, row_id, limit + 1), limit, ("id",))


@app.get("/v1/scorecards/{row_id}/measures")
async def measures(row_id: uuid.UUID, request: Request, limit: int = 50) -> Response:
    sql = f"SELECT {MEASURE} FROM measures WHERE scorecard_id = $1 ORDER BY id LIMIT $2"
    return _page(await _list(request, sql, row_id, limit + 1), limit, ("id",), MEASURE_JSONB)


@app.get("/v1/measures/{row_id}/readings")
async def readings(row_id: uuid.UUID, request: Request, limit: int = 50) -> Response:
    sql = (
        f"SELECT {READING} FROM readings WHERE measure_id = $1 "
        "ORDER BY observed_at DESC, id DESC LIMIT $2"
    )
    return _page(await _list(request, sql, row_id, limit + 1), limit, ("observed_at", "id"))


@app.post("/v1/scorecards/{row_id}/measures")
async def insert_measure(row_id: uuid.UUID, request: Request) -> Response:
    body = orjson.loads(await request.body())
    async with request.app.state.pool.acquire() as connection:
        await _check_key(request, connection, "write")
        record = await connection.fetchrow(
            "INSERT INTO measures (id, scorecard_id, objective_id, key, name, perspective, "
            "weight, direction, baseline, target, aggregation, cadence, prorate, thresholds, "
            "status) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, 'latest', 'month', false, "
            f"$10, 'no_data') RETURNING {MEASURE}",
            uuid.uuid4(),
            row_id,
            uuid.UUID(body["objective_id"]),
            body["key"],
            body["name"],
            body["perspective"],
            body["direction"],
            float(body["baseline"]),
            float(body["target"]),
            orjson.dumps(body.get("thresholds")).decode(),
        )
    return _json(_row(record, MEASURE_JSONB), 201)


@app.post("/v1/measures/{row_id}/readings")
async def insert_reading(row_id: uuid.UUID, request: Request) -> Response:
    body = orjson.loads(await request.body())
    async with request.app.state.pool.acquire() as connection:
        await _check_key(request, connection, "ingest")
        record = await connection.fetchrow(
            "INSERT INTO readings (id, measure_id, value, observed_at) VALUES ($1, $2, $3, $4) "
            f"RETURNING {READING}",
            uuid.uuid4(),
            row_id,
            float(body["value"]),
            datetime.fromisoformat(body["observed_at"]),
        )
    return _json(_row(record), 201)
