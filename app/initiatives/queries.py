"""Hot reads of initiatives: plain statements on the read pool (see `app.core.reads`)."""

from __future__ import annotations

import uuid
from typing import Any

from asyncpg import Connection, Record

from app.core.pagination import Keyset
from app.scoring import InitiativeStatus

# In InitiativeOut's field order (budget from its three columns); the links as sorted arrays.
COLUMNS = """id, scorecard_id, name, description, owner,
    ARRAY(SELECT l.objective_id FROM initiative_objectives l
          WHERE l.initiative_id = initiatives.id ORDER BY l.objective_id) AS objective_ids,
    ARRAY(SELECT l.measure_id FROM initiative_measures l
          WHERE l.initiative_id = initiatives.id ORDER BY l.measure_id) AS measure_ids,
    start_date, end_date, status, progress, budget_planned, budget_spent, budget_currency,
    version, created_at, updated_at"""
_ONE = f"SELECT {COLUMNS} FROM initiatives WHERE id = $1"
_SCORECARD_EXISTS = "SELECT EXISTS (SELECT FROM scorecards WHERE id = $1)"
KEYSET = Keyset(("id",), (uuid.UUID,))
# Filters of the list: the condition each adds, with its value as the next parameter.
FILTERS = {
    "objective_id": "EXISTS (SELECT FROM initiative_objectives l "
    "WHERE l.initiative_id = initiatives.id AND l.objective_id = ${n})",
    "measure_id": "EXISTS (SELECT FROM initiative_measures l "
    "WHERE l.initiative_id = initiatives.id AND l.measure_id = ${n})",
    "status": "status = ${n}",
    "owner": "owner = ${n}",
}

# Counts per status and budget totals per currency, in one statement (numeric sums: exact).
_SUMMARY = """
SELECT 'status' AS kind, status AS name, count(*) AS n, NULL::numeric AS planned,
    NULL::numeric AS spent
FROM initiatives WHERE scorecard_id = $1 GROUP BY status
UNION ALL
SELECT 'budget', budget_currency, count(*), sum(budget_planned), sum(budget_spent)
FROM initiatives WHERE scorecard_id = $1 AND budget_currency IS NOT NULL
GROUP BY budget_currency
"""


def initiative_out(row: Record | dict[str, Any]) -> dict[str, Any]:
    """A row as InitiativeOut serialises it."""
    initiative = dict(row)
    planned = initiative.pop("budget_planned")
    spent = initiative.pop("budget_spent")
    currency = initiative.pop("budget_currency")
    initiative["objective_ids"] = list(initiative["objective_ids"])
    initiative["measure_ids"] = list(initiative["measure_ids"])
    initiative["budget"] = (
        None
        if currency is None
        else {"planned": float(planned), "spent": float(spent), "currency": currency}
    )
    # The version and timestamps after the budget, as InitiativeOut orders them.
    for name in ("version", "created_at", "updated_at"):
        initiative[name] = initiative.pop(name)
    return initiative


async def get_initiative(connection: Connection, initiative_id: uuid.UUID) -> dict[str, Any] | None:
    row = await connection.fetchrow(_ONE, initiative_id)
    return None if row is None else initiative_out(row)


async def list_initiatives(
    connection: Connection,
    scorecard_id: uuid.UUID,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None] | None:
    """One page of a scorecard's initiatives by id (creation order), or None when there is no
    such scorecard. `filters`: FILTERS, None for any."""
    conditions, params = ["scorecard_id = $1"], list[Any]([scorecard_id])
    for name, condition in FILTERS.items():
        if (value := filters.get(name)) is not None:
            params.append(value)
            conditions.append(condition.format(n=len(params)))
    page, next_cursor = await KEYSET.fetch_page(
        connection,
        f"SELECT {COLUMNS} FROM initiatives",
        conditions,
        params,
        limit=limit,
        cursor=cursor,
    )
    # Only an empty page needs to ask whether the scorecard exists.
    if not page and not await connection.fetchval(_SCORECARD_EXISTS, scorecard_id):
        return None
    return [initiative_out(row) for row in page], next_cursor


async def initiative_totals(
    connection: Connection, scorecard_id: uuid.UUID
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """(count per status, every status listed; budget totals per currency, by code)."""
    by_status = {status.value: 0 for status in InitiativeStatus}
    budget: list[dict[str, Any]] = []
    for row in await connection.fetch(_SUMMARY, scorecard_id):
        if row["kind"] == "status":
            by_status[row["name"]] = row["n"]
        else:
            budget.append(
                {
                    "currency": row["name"],
                    "planned": float(row["planned"]),
                    "spent": float(row["spent"]),
                }
            )
    budget.sort(key=lambda total: total["currency"])
    return by_status, budget
