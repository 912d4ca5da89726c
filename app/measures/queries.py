"""Hot reads of measures: statements that write the JSON themselves (see `app.core.reads`)."""

from __future__ import annotations

import uuid
from typing import Any

from asyncpg import Record

from app.core.pagination import Keyset
from app.core.reads import (
    Field,
    Reader,
    bodies,
    boolean,
    identifier,
    integer,
    json_object,
    nested,
    number,
    object_array,
    representation,
    text,
    timestamp,
)
from app.scorecards.queries import thresholds

# MeasureOut, field by field.
MEASURE = representation(
    (
        identifier("id"),
        identifier("scorecard_id"),
        text("key"),
        text("name"),
        text("description"),
        text("unit"),
        text("owner"),
        text("perspective"),
        identifier("objective_id"),
        number("weight"),
        text("direction"),
        number("baseline"),
        number("target"),
        number("target_min"),
        number("target_max"),
        number("tolerance"),
        text("aggregation"),
        text("cadence"),
        boolean("prorate"),
        thresholds("thresholds"),
        text("formula"),
        Field(
            "source",
            "CASE WHEN num_nonnulls(source_measure_id, source_scorecard_id) > 0 THEN "
            + json_object(
                (
                    identifier("measure_id", "source_measure_id"),
                    identifier("scorecard_id", "source_scorecard_id"),
                )
            )
            + " END",
        ),
        nested(
            "xapi",
            (
                # One IRI or a list of them, as stored (an IRI holds no space: the only
                # ", " in a list's jsonb text is jsonb's own, after each comma).
                Field("verb", "replace((xapi->'verb')::text, ', ', ',')"),
                text("activity_id_prefix", "xapi->>'activity_id_prefix'"),
                text("value", "xapi->>'value'"),
            ),
            of="xapi",
        ),
        text("level"),
        object_array(
            "targets",
            "targets",
            '"from" timestamptz, baseline float8, target float8, target_min float8, '
            "target_max float8, thresholds jsonb",
            (
                timestamp("from", 'e."from"'),
                number("baseline", "e.baseline"),
                number("target", "e.target"),
                number("target_min", "e.target_min"),
                number("target_max", "e.target_max"),
                thresholds("e.thresholds"),
            ),
        ),
        integer("due_after_days"),
        text("status"),
        integer("version"),
        timestamp("created_at"),
        timestamp("updated_at"),
    )
)
_ONE = f"SELECT version, {MEASURE} FROM measures WHERE id = $1"
_SCORECARD_EXISTS = "SELECT EXISTS (SELECT FROM scorecards WHERE id = $1)"
KEYSET = Keyset(("id",), (uuid.UUID,))
FILTERS = ("perspective", "objective_id", "level")


async def get_measure(connection: Reader, measure_id: uuid.UUID) -> Record | None:
    """(version, body) of the measure, or None."""
    return await connection.fetchrow(_ONE, measure_id)


async def list_measures(
    connection: Reader,
    scorecard_id: uuid.UUID,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[str], str | None] | None:
    """One page of a scorecard's measures by id, or None when there is no such scorecard.
    `filters`: FILTERS by equality, None for any."""
    conditions, params = ["scorecard_id = $1"], list[Any]([scorecard_id])
    for name in FILTERS:
        if (value := filters.get(name)) is not None:
            params.append(value)
            conditions.append(f"{name} = ${len(params)}")
    page, next_cursor = await KEYSET.fetch_page(
        connection,
        f"SELECT id, {MEASURE} FROM measures",
        conditions,
        params,
        limit=limit,
        cursor=cursor,
    )
    # Only an empty page needs to ask whether the scorecard exists.
    if not page and not await connection.fetchval(_SCORECARD_EXISTS, scorecard_id):
        return None
    return bodies(page), next_cursor
