"""Hot reads of scorecards and objectives: statements that write the JSON themselves (see
`app.core.reads`)."""

from __future__ import annotations

import uuid
from typing import Any

from asyncpg import Record

from app.core.pagination import Keyset
from app.core.reads import (
    Field,
    Reader,
    bodies,
    enum_array,
    identifier,
    integer,
    nested,
    number,
    object_array,
    representation,
    text,
    timestamp,
)

# Each perspective of the stored list, in order.
_PERSPECTIVES = object_array(
    "perspectives",
    "perspectives",
    "key text, name text, weight float8",
    (text("key", "e.key"), text("name", "e.name"), number("weight", "e.weight")),
)


def thresholds(jsonb: str) -> Field:
    """ThresholdsOut from the stored jsonb `jsonb`; null when that is null."""
    bands = (
        number("green", f"({jsonb}->>'green')::float8"),
        number("amber", f"({jsonb}->>'amber')::float8"),
    )
    return nested("thresholds", bands, of=jsonb)


# ScorecardOut, field by field.
SCORECARD = representation(
    (
        identifier("id"),
        text("name"),
        text("description"),
        text("owner"),
        text("timezone"),
        thresholds("thresholds"),
        number("score_cap"),
        _PERSPECTIVES,
        timestamp("locked_before"),
        enum_array("commentary_required_for"),
        integer("version"),
        timestamp("created_at"),
        timestamp("updated_at"),
    )
)
# ObjectiveOut, field by field.
OBJECTIVE = representation(
    (
        identifier("id"),
        identifier("scorecard_id"),
        text("perspective"),
        text("name"),
        text("description"),
        number("weight"),
        # The objectives it drives (strategy map arrows), by id.
        Field(
            "drives",
            "(SELECT '[' || coalesce(string_agg('\"' || d.drives_id || '\"', ',' "
            "ORDER BY d.drives_id), '') || ']' FROM objective_drives d "
            "WHERE d.objective_id = objectives.id)",
        ),
        integer("version"),
        timestamp("created_at"),
        timestamp("updated_at"),
    )
)
_SCORECARD = f"SELECT version, {SCORECARD} FROM scorecards WHERE id = $1"
_OBJECTIVE = f"SELECT version, {OBJECTIVE} FROM objectives WHERE id = $1"
_SCORECARD_EXISTS = "SELECT EXISTS (SELECT FROM scorecards WHERE id = $1)"
KEYSET = Keyset(("id",), (uuid.UUID,))


async def get_scorecard(connection: Reader, scorecard_id: uuid.UUID) -> Record | None:
    """(version, body) of the scorecard, or None."""
    return await connection.fetchrow(_SCORECARD, scorecard_id)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")


async def list_scorecards(
    connection: Reader, *, q: str | None, limit: int, cursor: str | None
) -> tuple[list[str], str | None]:
    """One page of scorecards by id; `q`: names containing it, case-insensitively."""
    conditions: list[str] = []
    params: list[Any] = []
    if q:
        params.append(f"%{_escape_like(q)}%")
        conditions.append("name ILIKE $1")
    page, next_cursor = await KEYSET.fetch_page(
        connection,
        f"SELECT id, {SCORECARD} FROM scorecards",
        conditions,
        params,
        limit=limit,
        cursor=cursor,
    )
    return bodies(page), next_cursor


async def get_objective(connection: Reader, objective_id: uuid.UUID) -> Record | None:
    """(version, body) of the objective, or None."""
    return await connection.fetchrow(_OBJECTIVE, objective_id)


async def list_objectives(
    connection: Reader, scorecard_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[str], str | None] | None:
    """One page of a scorecard's objectives by id, or None when there is no such scorecard."""
    page, next_cursor = await KEYSET.fetch_page(
        connection,
        f"SELECT id, {OBJECTIVE} FROM objectives",
        ["scorecard_id = $1"],
        [scorecard_id],
        limit=limit,
        cursor=cursor,
    )
    # Only an empty page needs to ask whether the scorecard exists.
    if not page and not await connection.fetchval(_SCORECARD_EXISTS, scorecard_id):
        return None
    return bodies(page), next_cursor
