"""Hot reads of measures: plain statements on the read pool (see `app.core.reads`)."""

from __future__ import annotations

import uuid
from typing import Any

from asyncpg import Connection, Record

from app.core.pagination import Keyset
from app.core.reads import jsonb
from app.measures.schemas import target_steps_out

# In MeasureOut's field order.
COLUMNS = (
    "id, scorecard_id, key, name, description, unit, owner, perspective, objective_id, weight, "
    "direction, baseline, target, target_min, target_max, tolerance, aggregation, cadence, "
    "prorate, thresholds, formula, "
    "CASE WHEN num_nonnulls(source_measure_id, source_scorecard_id) > 0 THEN json_build_object("
    "'measure_id', source_measure_id, 'scorecard_id', source_scorecard_id)::text END AS source, "
    "xapi, level, targets, due_after_days, status, version, "
    "created_at, updated_at"
)
_ONE = f"SELECT {COLUMNS} FROM measures WHERE id = $1"
_SCORECARD_EXISTS = "SELECT EXISTS (SELECT FROM scorecards WHERE id = $1)"
KEYSET = Keyset(("id",), (uuid.UUID,))
FILTERS = ("perspective", "objective_id", "level")


def measure_out(row: Record) -> dict[str, Any]:
    """A row as MeasureOut serialises it."""
    measure = dict(row)
    if (thresholds := jsonb(measure["thresholds"])) is not None:
        thresholds = {"green": float(thresholds["green"]), "amber": float(thresholds["amber"])}
    measure["thresholds"] = thresholds
    if (xapi := jsonb(measure["xapi"])) is not None:
        xapi = {
            "verb": xapi["verb"],
            "activity_id_prefix": xapi.get("activity_id_prefix"),
            "value": xapi["value"],
        }
    measure["xapi"] = xapi
    if (source := jsonb(measure["source"])) is not None:
        source = {
            name: None if source[name] is None else uuid.UUID(source[name])
            for name in ("measure_id", "scorecard_id")
        }
    measure["source"] = source
    measure["targets"] = target_steps_out(jsonb(measure["targets"]))
    return measure


async def get_measure(connection: Connection, measure_id: uuid.UUID) -> dict[str, Any] | None:
    row = await connection.fetchrow(_ONE, measure_id)
    return None if row is None else measure_out(row)


async def list_measures(
    connection: Connection,
    scorecard_id: uuid.UUID,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None] | None:
    """One page of a scorecard's measures by id, or None when there is no such scorecard.
    `filters`: FILTERS by equality, None for any."""
    conditions, params = ["scorecard_id = $1"], list[Any]([scorecard_id])
    for name in FILTERS:
        if (value := filters.get(name)) is not None:
            params.append(value)
            conditions.append(f"{name} = ${len(params)}")
    page, next_cursor = await KEYSET.fetch_page(
        connection,
        f"SELECT {COLUMNS} FROM measures",
        conditions,
        params,
        limit=limit,
        cursor=cursor,
    )
    # Only an empty page needs to ask whether the scorecard exists.
    if not page and not await connection.fetchval(_SCORECARD_EXISTS, scorecard_id):
        return None
    return [measure_out(row) for row in page], next_cursor
