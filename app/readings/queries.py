"""Hot reads of readings: plain statements on the read pool (see `app.core.reads`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from asyncpg import Connection

from app.core.pagination import Keyset

# In ReadingOut's field order.
COLUMNS = "id, measure_id, value, observed_at, source, external_id, note, subject, created_at"
# Also read back by the write path, in the writer's transaction (`service.create_reading`).
ONE_READING = f"SELECT {COLUMNS} FROM readings WHERE id = $1"
_MEASURE_EXISTS = "SELECT EXISTS (SELECT FROM measures WHERE id = $1)"
# Newest first; the id breaks ties between readings observed at the same instant.
KEYSET = Keyset(("observed_at", "id"), (datetime, uuid.UUID), descending=True)


async def get_reading(connection: Connection, reading_id: uuid.UUID) -> dict[str, Any] | None:
    row = await connection.fetchrow(ONE_READING, reading_id)
    return None if row is None else dict(row)


async def list_readings(
    connection: Connection,
    measure_id: uuid.UUID,
    *,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None] | None:
    """One page of a measure's readings, newest first, observed in [start, end); None when
    there is no such measure."""
    conditions, params = ["measure_id = $1"], list[Any]([measure_id])
    if start is not None:
        params.append(start)
        conditions.append(f"observed_at >= ${len(params)}")
    if end is not None:
        params.append(end)
        conditions.append(f"observed_at < ${len(params)}")
    page, next_cursor = await KEYSET.fetch_page(
        connection,
        f"SELECT {COLUMNS} FROM readings",
        conditions,
        params,
        limit=limit,
        cursor=cursor,
    )
    # Only an empty page needs to ask whether the measure exists.
    if not page and not await connection.fetchval(_MEASURE_EXISTS, measure_id):
        return None
    return [dict(row) for row in page], next_cursor
