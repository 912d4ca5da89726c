"""Reading the audit log: a plain statement on the read pool, newest first by (at, id)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from asyncpg import Connection, Record

from app.core.pagination import Keyset
from app.core.reads import jsonb

KEYSET = Keyset(("at", "id"), (datetime, uuid.UUID), descending=True)
_SELECT = (
    "SELECT id, at, actor_key_id, actor_name, action, resource_type, resource_id, "
    "scorecard_id, changes FROM audit_log"
)


def entry_out(row: Record) -> dict[str, Any]:
    """A row as AuditEntryOut serialises it."""
    return {
        "id": row["id"],
        "at": row["at"],
        "actor": {"api_key_id": row["actor_key_id"], "name": row["actor_name"]},
        "action": row["action"],
        "resource_type": row["resource_type"],
        "resource_id": row["resource_id"],
        "scorecard_id": row["scorecard_id"],
        "changes": jsonb(row["changes"]),
    }


async def list_entries(
    connection: Connection,
    *,
    scorecard_id: uuid.UUID | None,
    resource_id: uuid.UUID | None,
    actor: str | None,
    action: str | None,
    after: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of entries matching every filter given; `actor` is a key's id or its name."""
    conditions: list[str] = []
    params: list[Any] = []

    def where(condition: str, value: Any) -> None:
        params.append(value)
        conditions.append(condition.format(f"${len(params)}"))

    if scorecard_id is not None:
        where("scorecard_id = {}", scorecard_id)
    if resource_id is not None:
        where("resource_id = {}", resource_id)
    if actor is not None:
        try:
            key_id = uuid.UUID(actor)
        except ValueError:
            where("actor_name = {}", actor)
        else:  # a key may be named like an id, too
            params.append(key_id)
            where(f"(actor_key_id = ${len(params)} OR actor_name = {{}})", actor)
    if action is not None:
        where("action = {}", action)
    if after is not None:
        where("at > {}", after)
    page, next_cursor = await KEYSET.fetch_page(
        connection, _SELECT, conditions, params, limit=limit, cursor=cursor
    )
    return [entry_out(row) for row in page], next_cursor
