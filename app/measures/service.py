"""Measure operations. Each public function is one unit of work: it commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, exists, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.log import Action, diff, record, snapshot
from app.core.errors import Conflict, ValidationFailed
from app.core.http import check_if_match
from app.core.ids import new_id
from app.measures.schemas import (
    MeasureCreate,
    MeasureUpdate,
    definition_errors,
    target_steps_out,
)
from app.readings.due import forget_announced
from app.readings.models import Reading
from app.scorecards.models import Measure, Objective, Scorecard
from app.scorecards.service import get_scorecard, linking_measures, lock_in_scorecard
from app.scoring import FormulaError, evaluation_order, parse_formula
from app.thresholds.status import lock_measures, refresh_statuses


async def _placement(session: AsyncSession, scorecard: Scorecard, fields: dict[str, Any]) -> str:
    """The measure's perspective: its objective's, which an explicit one must agree with."""
    objective_id = fields.get("objective_id")
    perspective = fields.get("perspective")
    if objective_id is not None:
        objective: Objective | None = await session.get(Objective, objective_id)
        if objective is None or objective.scorecard_id != scorecard.id:
            raise ValidationFailed.at(
                ["body", "objective_id"], "no such objective in this scorecard"
            )
        if perspective is not None and perspective != objective.perspective:
            raise ValidationFailed.at(
                ["body", "perspective"],
                f"must agree with the objective's perspective {objective.perspective!r}",
            )
        return objective.perspective
    keys = [p["key"] for p in scorecard.perspectives]
    if perspective not in keys:
        raise ValidationFailed.at(
            ["body", "perspective"],
            f"unknown perspective {perspective!r}; this scorecard has {keys}",
        )
    return str(perspective)


async def _check_formulas(
    session: AsyncSession,
    scorecard_id: uuid.UUID,
    measure: dict[str, Any],
    measure_id: uuid.UUID | None,
) -> None:
    """Unknown keys and cycles across the scorecard's derived measures → 422."""
    rows = (
        await session.execute(
            select(Measure.id, Measure.key, Measure.formula).where(
                Measure.scorecard_id == scorecard_id
            )
        )
    ).all()
    formulas = {key: parse_formula(f) if f else None for mid, key, f in rows if mid != measure_id}
    formulas[measure["key"]] = parse_formula(measure["formula"]) if measure["formula"] else None
    try:
        evaluation_order(formulas)
    except FormulaError as exc:
        raise ValidationFailed.at(["body", "formula"], str(exc)) from None


async def _dependents(session: AsyncSession, scorecard_id: uuid.UUID, key: str) -> list[str]:
    rows = (
        await session.execute(
            select(Measure.key, Measure.formula).where(
                Measure.scorecard_id == scorecard_id, Measure.formula.is_not(None)
            )
        )
    ).all()
    return sorted(k for k, f in rows if key in parse_formula(f or "").keys)


# Edits that can close a cycle across scorecards (sources, and formulas once anything is
# linked) take this transaction-level advisory lock: they check the whole graph one at a time.
_LINKS_LOCK = text("SELECT pg_advisory_xact_lock(0x11A4ED)")
_ANY_LINKED = text(
    "SELECT EXISTS (SELECT FROM measures "
    "WHERE num_nonnulls(source_measure_id, source_scorecard_id) > 0)"
)
MAX_LINK_LEVELS = 5


async def _check_links(
    session: AsyncSession,
    scorecard_id: uuid.UUID,
    merged: dict[str, Any],
    measure_id: uuid.UUID,
    field: str,
) -> None:
    """The source exists; no cycle runs through sources and formulas; no chain of links is
    deeper than MAX_LINK_LEVELS. Else 422 at `field`, naming the cycle or the chain."""
    await session.execute(_LINKS_LOCK)
    source = merged.get("source") or {}
    if (linked_measure := source.get("measure_id")) is not None and not await session.scalar(
        select(exists().where(Measure.id == linked_measure))
    ):
        raise ValidationFailed.at(["body", "source", "measure_id"], "no such measure")
    if (linked_card := source.get("scorecard_id")) is not None and not await session.scalar(
        select(exists().where(Scorecard.id == linked_card))
    ):
        raise ValidationFailed.at(["body", "source", "scorecard_id"], "no such scorecard")
    rows = (
        await session.execute(
            select(
                Measure.id,
                Measure.scorecard_id,
                Measure.key,
                Measure.formula,
                Measure.source_measure_id,
                Measure.source_scorecard_id,
            )
        )
    ).all()
    nodes = {row.id: row._asdict() for row in rows}
    nodes[measure_id] = {
        "id": measure_id,
        "scorecard_id": scorecard_id,
        "key": merged["key"],
        "formula": merged.get("formula"),
        "source_measure_id": linked_measure,
        "source_scorecard_id": linked_card,
    }
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    by_key: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
    for node in nodes.values():
        members.setdefault(node["scorecard_id"], []).append(node["id"])
        by_key[(node["scorecard_id"], node["key"])] = node["id"]
    # What each measure's value depends on, with 1 for a link and 0 for a formula input.
    edges: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {}
    for node in nodes.values():
        if node["source_measure_id"] is not None:
            edges[node["id"]] = [(node["source_measure_id"], 1)]
        elif node["source_scorecard_id"] is not None:
            edges[node["id"]] = [(m, 1) for m in members.get(node["source_scorecard_id"], ())]
        elif node["formula"]:
            keys = parse_formula(node["formula"]).keys
            edges[node["id"]] = [
                (by_key[(node["scorecard_id"], k)], 0)
                for k in sorted(keys)
                if (node["scorecard_id"], k) in by_key
            ]

    def name(node_id: uuid.UUID) -> str:
        return f"{nodes[node_id]['key']!r} ({node_id})"

    # Depth first from the edited measure: a path back to it is a cycle; the longest chain of
    # links below each measure is its depth (memoised; the graph below is acyclic otherwise).
    depth: dict[uuid.UUID, tuple[int, list[uuid.UUID]]] = {}
    on_path: list[uuid.UUID] = []

    def visit(node_id: uuid.UUID) -> tuple[int, list[uuid.UUID]]:
        if node_id in on_path:
            cycle = [*on_path[on_path.index(node_id) :], node_id]
            raise ValidationFailed.at(
                ["body", field],
                "sources and formulas would form a cycle: " + " → ".join(map(name, cycle)),
            )
        if node_id in depth:
            return depth[node_id]
        on_path.append(node_id)
        best: tuple[int, list[uuid.UUID]] = (0, [node_id])
        for following, weight in edges.get(node_id, ()):
            levels, chain = visit(following)
            if levels + weight > best[0]:
                best = (levels + weight, [node_id, *chain])
        on_path.pop()
        depth[node_id] = best
        return best

    visit(measure_id)
    # Measures that depend on this one: their chains grow with it.
    for node_id in nodes:
        levels, chain = visit(node_id)
        if levels > MAX_LINK_LEVELS:
            raise ValidationFailed.at(
                ["body", field],
                f"a chain of links may be at most {MAX_LINK_LEVELS} levels deep; this makes "
                f"{levels}: " + " → ".join(map(name, chain)),
            )


async def _has_readings(session: AsyncSession, measure_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(exists().where(Reading.measure_id == measure_id))))


async def _flush_unique_key(session: AsyncSession, key: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        if "uq_measures_scorecard_id" in str(exc.orig):
            raise Conflict(f"a measure with key {key!r} already exists in this scorecard") from None
        raise


def _audited(measure: Measure) -> dict[str, Any]:
    """The measure as audit entries show it: its target steps as the API writes them (every
    field, `from` in UTC with `Z`), not as stored."""
    fields = snapshot(measure)
    fields["targets"] = target_steps_out(fields["targets"])
    return fields


async def _refresh_status(session: AsyncSession, measure: Measure) -> None:
    """Re-evaluate the edited measure (and its dependents); the returned one keeps in step."""
    locked = await lock_measures(session, [measure.id], foresee=False)
    if (status := (await refresh_statuses(session, locked)).get(measure.id)) is not None:
        set_committed_value(measure, "status", status)  # computed: not an edit


async def create_measure(
    session: AsyncSession, scorecard_id: uuid.UUID, body: MeasureCreate
) -> Measure:
    # Locked so that concurrent formula edits on one scorecard cannot build a cycle together.
    scorecard = await get_scorecard(session, scorecard_id, for_update=True)
    fields = body.model_dump()
    if errors := definition_errors(fields):  # only the target steps' can be left here
        raise ValidationFailed("invalid measure definition", errors)
    fields["perspective"] = await _placement(session, scorecard, fields)
    if body.formula:
        await _check_formulas(session, scorecard_id, fields, None)
    measure = Measure(id=new_id(), scorecard_id=scorecard_id, **fields)
    if body.source is not None or (body.formula and await session.scalar(_ANY_LINKED)):
        field = "source" if body.source is not None else "formula"
        await _check_links(session, scorecard_id, fields, measure.id, field)
    session.add(measure)
    await _flush_unique_key(session, body.key)
    # A derived measure may start with data.
    await _refresh_status(session, measure)
    await record(
        session,
        Action.measure_created,
        resource_id=measure.id,
        scorecard_id=scorecard_id,
        changes=diff({}, _audited(measure)),
    )
    await session.commit()
    return measure


async def update_measure(
    session: AsyncSession, measure_id: uuid.UUID, body: MeasureUpdate, if_match: str | None
) -> Measure:
    measure, scorecard = await lock_in_scorecard(session, Measure, measure_id, "measure")
    check_if_match(if_match, measure.version)
    before = _audited(measure)
    changes = body.changes()
    current = {c: getattr(measure, c) for c in MeasureUpdate.model_fields}
    merged = {**current, **changes}
    if errors := definition_errors(merged):
        raise ValidationFailed("invalid measure definition", errors)
    if "objective_id" in changes or "perspective" in changes:
        if "objective_id" in changes and changes["objective_id"] is not None:
            merged["perspective"] = changes.get("perspective")
        merged["perspective"] = await _placement(session, scorecard, merged)
    renamed = "key" in changes and changes["key"] != measure.key
    if renamed and (users := await _dependents(session, scorecard.id, measure.key)):
        raise Conflict(f"derived measures {users} use key {measure.key!r}; update them first")
    if merged["formula"] and ("formula" in changes or "key" in changes):
        if measure.formula is None and await _has_readings(session, measure_id):
            raise Conflict(
                "this measure has readings; a derived measure takes none — "
                "delete its readings first"
            )
        await _check_formulas(session, scorecard.id, merged, measure_id)
    if merged["cadence"] != measure.cadence:
        await forget_announced(session, measure_id)
    relinks = "source" in changes and merged["source"] is not None
    if relinks and measure.source is None and await _has_readings(session, measure_id):
        raise Conflict(
            "this measure has readings; a linked measure takes none — delete its readings first"
        )
    if relinks or (
        merged["formula"] and "formula" in changes and await session.scalar(_ANY_LINKED)
    ):
        field = "source" if relinks else "formula"
        await _check_links(session, scorecard.id, merged, measure_id, field)
    for name in MeasureUpdate.model_fields:
        setattr(measure, name, merged[name])
    measure.version += 1
    await _flush_unique_key(session, merged["key"])
    await _refresh_status(session, measure)
    await record(
        session,
        Action.measure_updated,
        resource_id=measure_id,
        scorecard_id=scorecard.id,
        changes=diff(before, _audited(measure)),
    )
    await session.commit()
    return measure


async def delete_measure(
    session: AsyncSession, measure_id: uuid.UUID, *, cascade: bool, if_match: str | None
) -> None:
    measure, _ = await lock_in_scorecard(session, Measure, measure_id, "measure")
    check_if_match(if_match, measure.version)
    if users := await _dependents(session, measure.scorecard_id, measure.key):
        raise Conflict(f"derived measures {users} use this measure; update or delete them first")
    if linking := await linking_measures(session, Measure.source_measure_id == measure_id):
        raise Conflict(f"linked measures {linking} take their values from this measure")
    if not cascade and await _has_readings(session, measure_id):
        raise Conflict("measure has readings; delete them or use ?cascade=true")
    before = _audited(measure)
    await session.execute(delete(Measure).where(Measure.id == measure_id))
    # Its scorecard's score moves: the measures linked to that scorecard follow, now.
    linked = (
        await session.scalars(
            select(Measure.id).where(Measure.source_scorecard_id == measure.scorecard_id)
        )
    ).all()
    if linked:
        await refresh_statuses(session, await lock_measures(session, linked, foresee=False))
    await record(
        session,
        Action.measure_deleted,
        resource_id=measure_id,
        scorecard_id=measure.scorecard_id,
        changes=diff(before, {}),
    )
    await session.commit()
