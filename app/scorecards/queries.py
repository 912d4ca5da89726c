"""Hot reads of scorecards and objectives: plain statements on the read pool (see
`app.core.reads`)."""

from __future__ import annotations

import uuid
from typing import Any

from asyncpg import Connection, Record

from app.core.pagination import Keyset
from app.core.reads import jsonb

# In ScorecardOut's and ObjectiveOut's field order.
SCORECARD_COLUMNS = (
    "id, name, description, owner, timezone, thresholds, score_cap, perspectives, "
    "locked_before, commentary_required_for, version, created_at, updated_at"
)
OBJECTIVE_COLUMNS = (
    "id, scorecard_id, perspective, name, description, weight, "
    "ARRAY(SELECT d.drives_id FROM objective_drives d "
    "WHERE d.objective_id = objectives.id ORDER BY d.drives_id) AS drives, "
    "version, created_at, updated_at"
)
_SCORECARD = f"SELECT {SCORECARD_COLUMNS} FROM scorecards WHERE id = $1"
_OBJECTIVE = f"SELECT {OBJECTIVE_COLUMNS} FROM objectives WHERE id = $1"
_SCORECARD_EXISTS = "SELECT EXISTS (SELECT FROM scorecards WHERE id = $1)"
KEYSET = Keyset(("id",), (uuid.UUID,))


def scorecard_out(row: Record) -> dict[str, Any]:
    """A row as ScorecardOut serialises it."""
    scorecard = dict(row)
    thresholds = jsonb(scorecard["thresholds"])
    scorecard["thresholds"] = {
        "green": float(thresholds["green"]),
        "amber": float(thresholds["amber"]),
    }
    scorecard["perspectives"] = [
        {"key": p["key"], "name": p["name"], "weight": float(p["weight"])}
        for p in jsonb(scorecard["perspectives"])
    ]
    scorecard["commentary_required_for"] = jsonb(scorecard["commentary_required_for"])
    return scorecard


async def get_scorecard(connection: Connection, scorecard_id: uuid.UUID) -> dict[str, Any] | None:
    row = await connection.fetchrow(_SCORECARD, scorecard_id)
    return None if row is None else scorecard_out(row)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")


async def list_scorecards(
    connection: Connection, *, q: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of scorecards by id; `q`: names containing it, case-insensitively."""
    conditions: list[str] = []
    params: list[Any] = []
    if q:
        params.append(f"%{_escape_like(q)}%")
        conditions.append("name ILIKE $1")
    page, next_cursor = await KEYSET.fetch_page(
        connection,
        f"SELECT {SCORECARD_COLUMNS} FROM scorecards",
        conditions,
        params,
        limit=limit,
        cursor=cursor,
    )
    return [scorecard_out(row) for row in page], next_cursor


def objective_out(row: Record) -> dict[str, Any]:
    """A row as ObjectiveOut serialises it."""
    objective = dict(row)
    objective["drives"] = list(objective["drives"])
    return objective


async def get_objective(connection: Connection, objective_id: uuid.UUID) -> dict[str, Any] | None:
    row = await connection.fetchrow(_OBJECTIVE, objective_id)
    return None if row is None else objective_out(row)


async def list_objectives(
    connection: Connection, scorecard_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None] | None:
    """One page of a scorecard's objectives by id, or None when there is no such scorecard."""
    page, next_cursor = await KEYSET.fetch_page(
        connection,
        f"SELECT {OBJECTIVE_COLUMNS} FROM objectives",
        ["scorecard_id = $1"],
        [scorecard_id],
        limit=limit,
        cursor=cursor,
    )
    # Only an empty page needs to ask whether the scorecard exists.
    if not page and not await connection.fetchval(_SCORECARD_EXISTS, scorecard_id):
        return None
    return [objective_out(row) for row in page], next_cursor
