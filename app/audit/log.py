"""`record(...)`: one audit entry, appended in the caller's transaction by a single INSERT on
the session's own asyncpg connection (no ORM object, no flush: the readings write path calls
it too, and it must cost next to nothing there — docs/performance.md has the figures).

Who: the API key the session writes for (`Actor`), which authentication leaves in the state of
the request the session serves (`app.core.database.REQUEST_STATE`). A session without one (the CLI:
`scorecard demo`, `scorecard api-keys create`) changes nothing through the API and records
nothing.

Hot paths that read anyway can have the entry written by their read's statement instead
(`fetch_recorded`): no round trip of its own.

What: `changes` maps each field that changed to `[old, new]` (a creation: `[null, value]`; a
deletion: `[value, null]`). Secrets never enter it, whatever the caller passes: `snapshot`
leaves secret columns out, and `record` drops `SECRET_FIELDS` of the resource type, in the one
place every entry goes through."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import REQUEST_STATE, driver_connection
from app.core.ids import new_id
from app.core.jsonutil import dumps


class Action(StrEnum):
    scorecard_created = "scorecard.created"
    scorecard_updated = "scorecard.updated"
    scorecard_deleted = "scorecard.deleted"
    objective_created = "objective.created"
    objective_updated = "objective.updated"
    objective_deleted = "objective.deleted"
    measure_created = "measure.created"
    measure_updated = "measure.updated"
    measure_deleted = "measure.deleted"
    reading_created = "reading.created"
    reading_deleted = "reading.deleted"
    # One entry per request that writes many readings, with counts, never one per reading.
    readings_batch = "reading.batch_recorded"
    readings_csv = "reading.csv_imported"
    xapi_statements = "xapi_statement.stored"
    readings_backfill = "reading.xapi_backfilled"
    commentary_created = "commentary.created"
    commentary_updated = "commentary.updated"
    commentary_deleted = "commentary.deleted"
    initiative_created = "initiative.created"
    initiative_updated = "initiative.updated"
    initiative_deleted = "initiative.deleted"
    webhook_created = "webhook.created"
    webhook_updated = "webhook.updated"
    webhook_deleted = "webhook.deleted"
    webhook_secret_rotated = "webhook.secret_rotated"  # noqa: S105 (an action name)
    api_key_created = "api_key.created"
    api_key_deleted = "api_key.deleted"
    share_link_created = "share_link.created"
    share_link_deleted = "share_link.deleted"

    @property
    def resource_type(self) -> str:
        return self.value.partition(".")[0]


# Never written to an entry: an API key's plaintext and hash, a webhook's signing secrets, a
# share link's token and hash.
SECRET_FIELDS: dict[str, frozenset[str]] = {
    "api_key": frozenset({"key", "key_hash"}),
    "webhook": frozenset({"secret", "previous_secret"}),
    "share_link": frozenset({"token", "token_hash"}),
}
SECRET_COLUMNS = frozenset(
    {
        ("api_keys", "key_hash"),
        ("webhook_subscriptions", "secret"),
        ("webhook_subscriptions", "previous_secret"),
        ("share_links", "token_hash"),
    }
)
# Kept by the service, not changed by anyone: not worth an entry's bytes.
BOOKKEEPING = frozenset(
    {"id", "version", "created_at", "updated_at", "status", "data_stamp", "definition_stamp"}
)


@dataclass(frozen=True, slots=True)
class Actor:
    """The API key a change is made with (its name as it was then)."""

    api_key_id: uuid.UUID
    name: str


def snapshot(row: Any) -> dict[str, Any]:
    """An ORM row's fields as an entry shows them (no bookkeeping, no secrets)."""
    mapper = inspect(row).mapper
    table = mapper.local_table.name
    return {
        attribute.key: getattr(row, attribute.key)
        for attribute in mapper.column_attrs
        if attribute.key not in BOOKKEEPING and (table, attribute.key) not in SECRET_COLUMNS
    }


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]] | None:
    """`{field: [old, new]}` for every field whose value differs (absent counts as null)."""
    fields = [*before, *(name for name in after if name not in before)]
    changed = {
        name: [before.get(name), after.get(name)]
        for name in fields
        if before.get(name) != after.get(name)
    }
    return changed or None


def counts(**numbers: int) -> dict[str, list[Any]]:
    """The `changes` of a request that wrote many readings: `{"created": [null, n], ...}`."""
    return {name: [None, number] for name, number in numbers.items()}


_COLUMNS = "id, actor_key_id, actor_name, action, resource_type, resource_id, scorecard_id, changes"


def _insert(first: int) -> str:
    """The entry's INSERT with its parameters numbered from `first`."""
    values = ", ".join(f"${first + i}" for i in range(7))
    # Built from constants and numbered placeholders; every value is a bound parameter.
    return f"INSERT INTO audit_log ({_COLUMNS}) VALUES ({values}, ${first + 7}::text::jsonb)"  # noqa: S608


_INSERT = _insert(1)


def _entry(
    session: AsyncSession,
    action: Action,
    resource_id: uuid.UUID | None,
    scorecard_id: uuid.UUID | None,
    changes: Mapping[str, list[Any]] | None,
) -> list[Any] | None:
    """The entry's parameters, or None when the session writes for nobody."""
    actor: Actor | None = getattr(session.info.get(REQUEST_STATE), "actor", None)
    if actor is None:
        return None
    secret = SECRET_FIELDS.get(action.resource_type, frozenset())
    kept = {k: v for k, v in (changes or {}).items() if k not in secret}
    return [
        new_id(),
        actor.api_key_id,
        actor.name,
        action.value,
        action.resource_type,
        resource_id,
        scorecard_id,
        dumps(kept).decode() if kept else None,
    ]


async def record(
    session: AsyncSession,
    action: Action,
    *,
    resource_id: uuid.UUID | None,
    scorecard_id: uuid.UUID | None,
    changes: Mapping[str, list[Any]] | None = None,
) -> None:
    """Append one entry in the session's transaction (it commits or rolls back with the
    change it describes)."""
    entry = _entry(session, action, resource_id, scorecard_id, changes)
    if entry is not None:
        driver = await driver_connection(session)
        await driver.execute(_INSERT, *entry)


async def fetch_recorded(
    session: AsyncSession,
    query: str,
    params: Sequence[Any],
    action: Action,
    *,
    resource_id: uuid.UUID | None,
    scorecard_id: uuid.UUID | None,
    changes: Mapping[str, list[Any]] | None = None,
) -> Any:
    """`fetchrow(query, *params)` in the session's transaction, with the entry `record` would
    append written by the same statement (a data-modifying WITH runs whether or not the query
    reads it): for a hot path that reads anyway, the entry costs no round trip of its own (a
    single reading's write: `readings.service.create_reading`)."""
    driver = await driver_connection(session)
    entry = _entry(session, action, resource_id, scorecard_id, changes)
    if entry is None:
        return await driver.fetchrow(query, *params)
    with_entry = f"WITH audit_entry AS ({_insert(len(params) + 1)}) {query}"
    return await driver.fetchrow(with_entry, *params, *entry)
