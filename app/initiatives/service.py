"""Initiative operations. Each public function that writes is one unit of work: it commits.

An initiative is part of its scorecard's definition (score trees show it), so its edits take
the locks every definition edit takes, scorecard first (`scorecards.service`): a concurrent
delete of a linked objective or measure waits, and no link can point at a row going away."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from asyncpg import Connection
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.log import Action, diff, record
from app.core.database import get_or_404
from app.core.errors import ValidationFailed
from app.core.http import check_if_match
from app.initiatives.models import Initiative, initiative_measures, initiative_objectives
from app.initiatives.queries import initiative_totals
from app.initiatives.schemas import InitiativeCreate, InitiativeOut, InitiativeUpdate
from app.scorecards.models import Measure, Objective
from app.scorecards.service import get_scorecard
from app.scores.data import Definitions
from app.scores.service import score_scorecard
from app.scoring import PeriodSelector
from app.webhooks.events import INITIATIVE_STATUS_CHANGED, emit_event

# The link lists: body field, link table, its column, the linked model, what it is called.
_LINKS: tuple[tuple[str, Table, str, type[Objective] | type[Measure], str], ...] = (
    ("objective_ids", initiative_objectives, "objective_id", Objective, "objectives"),
    ("measure_ids", initiative_measures, "measure_id", Measure, "measures"),
)


def _budget_columns(budget: dict[str, Any] | None) -> dict[str, Any]:
    if budget is None:
        return {"budget_planned": None, "budget_spent": None, "budget_currency": None}
    # Via the shortest text of the float: 0.1 is stored as 0.1, and sums stay exact.
    return {
        "budget_planned": Decimal(repr(budget["planned"])),
        "budget_spent": Decimal(repr(budget["spent"])),
        "budget_currency": budget["currency"],
    }


async def _check_links(
    session: AsyncSession, scorecard_id: uuid.UUID, fields: dict[str, Any]
) -> None:
    """Every linked objective and measure is of this scorecard, else 422 naming the others."""
    errors = []
    for field, _, _, model, what in _LINKS:
        ids = fields.get(field)
        if not ids:
            continue
        found = set(
            (
                await session.scalars(
                    select(model.id).where(model.id.in_(ids), model.scorecard_id == scorecard_id)
                )
            ).all()
        )
        if missing := [str(i) for i in ids if i not in found]:
            errors.append(
                {
                    "loc": ["body", field],
                    "message": f"no such {what} in this scorecard: {', '.join(missing)}",
                }
            )
    if errors:
        raise ValidationFailed(
            "initiatives link objectives and measures of their scorecard", errors
        )


async def _replace_links(
    session: AsyncSession, initiative_id: uuid.UUID, fields: dict[str, Any]
) -> None:
    for field, table, column, _, _ in _LINKS:
        if field not in fields:
            continue
        await session.execute(delete(table).where(table.c.initiative_id == initiative_id))
        if fields[field]:
            await session.execute(
                insert(table),
                [{"initiative_id": initiative_id, column: linked} for linked in fields[field]],
            )


async def _links(session: AsyncSession, initiative_id: uuid.UUID) -> dict[str, list[uuid.UUID]]:
    return {
        field: list(
            (
                await session.scalars(
                    select(table.c[column])
                    .where(table.c.initiative_id == initiative_id)
                    .order_by(table.c[column])
                )
            ).all()
        )
        for field, table, column, _, _ in _LINKS
    }


def initiative_out(initiative: Initiative, links: dict[str, list[uuid.UUID]]) -> InitiativeOut:
    budget = None
    if initiative.budget_currency is not None:
        budget = {
            "planned": float(initiative.budget_planned or 0),
            "spent": float(initiative.budget_spent or 0),
            "currency": initiative.budget_currency,
        }
    return InitiativeOut.model_validate(
        {
            **{
                name: getattr(initiative, name)
                for name in InitiativeOut.model_fields
                if name not in ("objective_ids", "measure_ids", "budget")
            },
            "objective_ids": links["objective_ids"],
            "measure_ids": links["measure_ids"],
            "budget": budget,
        }
    )


# Kept by the service, not edited by anyone: no entry shows them.
_NOT_AUDITED = {"id", "version", "created_at", "updated_at"}


def _audited(out: InitiativeOut) -> dict[str, Any]:
    """The initiative as audit entries show it: its fields as the API writes them (dates,
    link lists, the budget object), without the bookkeeping."""
    return out.model_dump(mode="json", exclude=_NOT_AUDITED)


async def create_initiative(
    session: AsyncSession, scorecard_id: uuid.UUID, body: InitiativeCreate
) -> InitiativeOut:
    await get_scorecard(session, scorecard_id, for_update=True)
    fields = body.model_dump()
    await _check_links(session, scorecard_id, fields)
    links = {field: sorted(fields.pop(field)) for field, *_ in _LINKS}
    fields.update(_budget_columns(fields.pop("budget")))
    initiative = Initiative(scorecard_id=scorecard_id, **fields)
    session.add(initiative)
    await session.flush()
    await _replace_links(session, initiative.id, links)
    out = initiative_out(initiative, links)
    await record(
        session,
        Action.initiative_created,
        resource_id=initiative.id,
        scorecard_id=scorecard_id,
        changes=diff({}, _audited(out)),
    )
    await session.commit()
    return out


async def _lock(session: AsyncSession, initiative_id: uuid.UUID) -> Initiative:
    """Its scorecard locked, then the initiative (the order of every definition edit)."""
    initiative = await get_or_404(session, Initiative, initiative_id, what="initiative")
    await get_scorecard(session, initiative.scorecard_id, for_update=True)
    return await get_or_404(session, Initiative, initiative_id, what="initiative", for_update=True)


async def update_initiative(
    session: AsyncSession, initiative_id: uuid.UUID, body: InitiativeUpdate, if_match: str | None
) -> InitiativeOut:
    initiative = await _lock(session, initiative_id)
    check_if_match(if_match, initiative.version)
    before = _audited(initiative_out(initiative, await _links(session, initiative_id)))
    changes = body.changes()
    start = changes.get("start_date", initiative.start_date)
    end = changes.get("end_date", initiative.end_date)
    if start > end:
        field = "start_date" if "start_date" in changes else "end_date"
        raise ValidationFailed.at(
            ["body", field], f"start_date {start} must not be after end_date {end}"
        )
    await _check_links(session, initiative.scorecard_id, changes)
    previous_status = initiative.status
    for field, *_ in _LINKS:
        if field in changes:
            changes[field] = sorted(changes[field])
    await _replace_links(session, initiative_id, changes)
    if "budget" in changes:
        changes.update(_budget_columns(changes.pop("budget")))
    for name, value in changes.items():
        if name not in ("objective_ids", "measure_ids"):
            setattr(initiative, name, value)
    initiative.version += 1
    if initiative.status != previous_status:
        await emit_event(
            session,
            INITIATIVE_STATUS_CHANGED,
            {
                "scorecard_id": initiative.scorecard_id,
                "initiative_id": initiative.id,
                "name": initiative.name,
                "previous_status": previous_status,
                "status": initiative.status,
            },
            scorecard_id=initiative.scorecard_id,
        )
    await session.flush()
    out = initiative_out(initiative, await _links(session, initiative_id))
    await record(
        session,
        Action.initiative_updated,
        resource_id=initiative_id,
        scorecard_id=initiative.scorecard_id,
        changes=diff(before, _audited(out)),
    )
    await session.commit()
    return out


async def delete_initiative(
    session: AsyncSession, initiative_id: uuid.UUID, *, if_match: str | None
) -> None:
    initiative = await _lock(session, initiative_id)
    check_if_match(if_match, initiative.version)
    before = _audited(initiative_out(initiative, await _links(session, initiative_id)))
    await session.execute(delete(Initiative).where(Initiative.id == initiative_id))
    await record(
        session,
        Action.initiative_deleted,
        resource_id=initiative_id,
        scorecard_id=initiative.scorecard_id,
        changes=diff(before, {}),
    )
    await session.commit()


async def initiative_summary(
    connection: Connection,
    definitions: Definitions,
    scorecard_id: uuid.UUID,
    as_of: datetime,
) -> dict[str, Any]:
    """Counts per status, budgets per currency, and the red measures that no initiative active
    at `as_of` covers: the `needs_initiative` of the score tree at `as_of`, from the one
    scoring function (404 for an unknown scorecard)."""
    definition, tree = await score_scorecard(
        connection, definitions, scorecard_id, as_of, PeriodSelector.current
    )
    flagged = {m.measure_id for m in tree.measures() if m.needs_initiative}
    by_status, budget = await initiative_totals(connection, scorecard_id)
    return {
        "by_status": by_status,
        "budget": budget,
        "red_measures_without_initiative": [m.id for m in definition.measures if m.id in flagged],
    }
