"""Hot reads of readings: statements that write the JSON themselves (see `app.core.reads`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from app.core.pagination import Keyset
from app.core.reads import Reader, bodies, identifier, number, representation, text, timestamp

# The stored columns, in ReadingOut's field order: read back by the write path, in the
# writer's transaction (`service.create_reading`).
ONE_READING = (
    "SELECT id, measure_id, value, observed_at, source, external_id, note, subject, created_at "
    "FROM readings WHERE id = $1"
)
# ReadingOut, field by field.
READING = representation(
    (
        identifier("id"),
        identifier("measure_id"),
        number("value"),
        timestamp("observed_at"),
        text("source"),
        text("external_id"),
        text("note"),
        text("subject"),
        timestamp("created_at"),
    )
)
_ONE = f"SELECT {READING} FROM readings WHERE id = $1"
_MEASURE_EXISTS = "SELECT EXISTS (SELECT FROM measures WHERE id = $1)"
# Newest first; the id breaks ties between readings observed at the same instant.
KEYSET = Keyset(("observed_at", "id"), (datetime, uuid.UUID), descending=True)


async def get_reading(connection: Reader, reading_id: uuid.UUID) -> str | None:
    """The reading's body, or None."""
    return await connection.fetchval(_ONE, reading_id)  # type: ignore[no-any-return]


async def list_readings(
    connection: Reader,
    measure_id: uuid.UUID,
    *,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[str], str | None] | None:
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
        f"SELECT observed_at, id, {READING} FROM readings",
        conditions,
        params,
        limit=limit,
        cursor=cursor,
    )
    # Only an empty page needs to ask whether the measure exists.
    if not page and not await connection.fetchval(_MEASURE_EXISTS, measure_id):
        return None
    return bodies(page), next_cursor
