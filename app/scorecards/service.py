"""Scorecard and objective operations. Each public function is one unit of work: it commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.log import Action, diff, record, snapshot
from app.core.database import get_or_404
from app.core.errors import Conflict, Forbidden, ValidationFailed
from app.core.http import check_if_match
from app.core.ids import new_id
from app.scorecards.models import Measure, Objective, Scorecard, objective_drives
from app.scorecards.schemas import (
    ObjectiveCreate,
    ObjectiveUpdate,
    ScorecardCreate,
    ScorecardUpdate,
)
from app.thresholds.status import lock_measures, refresh_statuses

# Scorecard fields that can move a measure's status.
STATUS_INPUTS = frozenset({"thresholds", "timezone", "score_cap"})


async def get_scorecard(
    session: AsyncSession, scorecard_id: uuid.UUID, *, for_update: bool = False
) -> Scorecard:
    return await get_or_404(
        session, Scorecard, scorecard_id, what="scorecard", for_update=for_update
    )


Part = TypeVar("Part", Objective, Measure)


async def lock_in_scorecard(
    session: AsyncSession, model: type[Part], row_id: uuid.UUID, what: str
) -> tuple[Part, Scorecard]:
    """Lock an objective's or a measure's scorecard, then the row itself. Every definition
    edit takes its locks in this order (an edit also restamps the scorecard row, migration
    0004), so concurrent edits cannot deadlock."""
    row = await get_or_404(session, model, row_id, what=what)
    scorecard = await get_scorecard(session, row.scorecard_id, for_update=True)
    return await get_or_404(session, model, row_id, what=what, for_update=True), scorecard


async def linking_measures(session: AsyncSession, condition: Any) -> list[str]:
    """The measures that `condition` selects (those linking to something), named for a 409."""
    rows = (
        await session.execute(select(Measure.id, Measure.key).where(condition).order_by(Measure.id))
    ).all()
    return [f"{row.key!r} ({row.id})" for row in rows]


async def create_scorecard(
    session: AsyncSession, body: ScorecardCreate, *, scorecard_id: uuid.UUID | None = None
) -> Scorecard:
    scorecard = Scorecard(**body.model_dump())
    if scorecard_id is not None:
        scorecard.id = scorecard_id
    session.add(scorecard)
    await session.flush()
    await record(
        session,
        Action.scorecard_created,
        resource_id=scorecard.id,
        scorecard_id=scorecard.id,
        changes=diff({}, snapshot(scorecard)),
    )
    await session.commit()
    return scorecard


async def _perspectives_in_use(session: AsyncSession, scorecard_id: uuid.UUID) -> set[str]:
    used = (
        select(Objective.perspective)
        .where(Objective.scorecard_id == scorecard_id)
        .union(select(Measure.perspective).where(Measure.scorecard_id == scorecard_id))
    )
    return set((await session.scalars(used)).all())


async def update_scorecard(
    session: AsyncSession,
    scorecard_id: uuid.UUID,
    body: ScorecardUpdate,
    if_match: str | None,
    *,
    may_unlock: bool = False,
) -> Scorecard:
    """`may_unlock`: the caller may move `locked_before` earlier or clear it (scope admin)."""
    scorecard = await get_scorecard(session, scorecard_id, for_update=True)
    check_if_match(if_match, scorecard.version)
    before = snapshot(scorecard)
    changes = body.changes()
    if "locked_before" in changes:
        await _move_lock(session, scorecard, changes["locked_before"], may_unlock=may_unlock)
    if "perspectives" in changes:
        removed = await _perspectives_in_use(session, scorecard_id) - {
            p["key"] for p in changes["perspectives"]
        }
        if removed:
            raise Conflict(
                f"perspectives {sorted(removed)} still hold objectives or measures; "
                "move or delete those first"
            )
    for name, value in changes.items():
        setattr(scorecard, name, value)
    scorecard.version += 1
    if changes.keys() & STATUS_INPUTS:
        await session.flush()
        # No measure can be added meanwhile: that locks the scorecard, as this update does.
        measure_ids = (
            await session.scalars(select(Measure.id).where(Measure.scorecard_id == scorecard_id))
        ).all()
        await refresh_statuses(session, await lock_measures(session, measure_ids, foresee=False))
    await record(
        session,
        Action.scorecard_updated,
        resource_id=scorecard_id,
        scorecard_id=scorecard_id,
        changes=diff(before, snapshot(scorecard)),
    )
    await session.commit()
    return scorecard


async def _move_lock(
    session: AsyncSession, scorecard: Scorecard, moved_to: datetime | None, *, may_unlock: bool
) -> None:
    """Closing more periods is a write; reopening any (earlier, or none) is an admin's call.
    Every measure of the scorecard is locked before the change, as a reading writer locks
    its measure: a writer holding the lock keeps the bound it read until it commits, and one
    that waited for it reads the new bound (`app.thresholds.status.lock_measures`)."""
    current = scorecard.locked_before
    unlocks = current is not None and (moved_to is None or moved_to < current)
    if unlocks and not may_unlock:
        raise Forbidden(
            "moving locked_before earlier or clearing it reopens closed periods: "
            "that needs scope 'admin'"
        )
    if moved_to != current:
        measure_ids = (
            await session.scalars(select(Measure.id).where(Measure.scorecard_id == scorecard.id))
        ).all()
        await lock_measures(session, measure_ids, foresee=False)


async def delete_scorecard(
    session: AsyncSession, scorecard_id: uuid.UUID, *, cascade: bool, if_match: str | None
) -> None:
    scorecard = await get_scorecard(session, scorecard_id, for_update=True)
    check_if_match(if_match, scorecard.version)
    own = select(Measure.id).where(Measure.scorecard_id == scorecard_id)
    names = await linking_measures(
        session,
        and_(
            Measure.scorecard_id != scorecard_id,
            or_(Measure.source_scorecard_id == scorecard_id, Measure.source_measure_id.in_(own)),
        ),
    )
    if names:
        raise Conflict(
            f"linked measures {names} of other scorecards take their values from this "
            "scorecard or its measures; unlink them first"
        )
    if not cascade:
        measures = await session.scalar(
            select(func.count()).where(Measure.scorecard_id == scorecard_id)
        )
        if measures:
            raise Conflict(
                f"scorecard still has {measures} measure(s); delete them or use ?cascade=true"
            )
    before = snapshot(scorecard)
    await session.execute(delete(Scorecard).where(Scorecard.id == scorecard_id))
    await record(
        session,
        Action.scorecard_deleted,
        resource_id=scorecard_id,
        scorecard_id=scorecard_id,
        changes=diff(before, {}),
    )
    await session.commit()


def _check_perspective(scorecard: Scorecard, key: str) -> None:
    keys = [p["key"] for p in scorecard.perspectives]
    if key not in keys:
        raise ValidationFailed.at(
            ["body", "perspective"], f"unknown perspective {key!r}; this scorecard has {keys}"
        )


async def get_objective(
    session: AsyncSession, objective_id: uuid.UUID, *, for_update: bool = False
) -> Objective:
    return await get_or_404(
        session, Objective, objective_id, what="objective", for_update=for_update
    )


async def _check_drives(
    session: AsyncSession, scorecard_id: uuid.UUID, objective_id: uuid.UUID, drives: list[uuid.UUID]
) -> None:
    """`drives` names other objectives of this scorecard and closes no cycle, else 422.
    The caller holds the scorecard's lock: no arrow of this scorecard changes meanwhile."""
    if objective_id in drives:
        raise ValidationFailed.at(["body", "drives"], "an objective cannot drive itself")
    named = await session.execute(
        select(Objective.id, Objective.name).where(Objective.scorecard_id == scorecard_id)
    )
    names: dict[uuid.UUID, str] = {row.id: row.name for row in named}
    if missing := [str(i) for i in drives if i not in names]:
        raise ValidationFailed.at(
            ["body", "drives"], f"no such objective in this scorecard: {', '.join(missing)}"
        )
    arrows: dict[uuid.UUID, list[uuid.UUID]] = {}
    rows = await session.execute(
        select(objective_drives.c.objective_id, objective_drives.c.drives_id)
        .join(Objective, Objective.id == objective_drives.c.objective_id)
        .where(Objective.scorecard_id == scorecard_id)
        .order_by(objective_drives.c.objective_id, objective_drives.c.drives_id)
    )
    for cause, effect in rows:
        arrows.setdefault(cause, []).append(effect)
    arrows[objective_id] = sorted(drives)
    if cycle := _cycle_through(objective_id, arrows):
        path = " → ".join(f"{names.get(i, 'this objective')!r} ({i})" for i in cycle)
        raise ValidationFailed.at(["body", "drives"], f"drives would close a cycle: {path}")


def _cycle_through(
    start: uuid.UUID, arrows: dict[uuid.UUID, list[uuid.UUID]]
) -> list[uuid.UUID] | None:
    """A path start → … → start along `arrows`, or None (depth first, without recursion)."""
    seen = {start}
    stack = [(start, iter(arrows.get(start, ())))]
    while stack:
        _, successors = stack[-1]
        following = next(successors, None)
        if following is None:
            stack.pop()
        elif following == start:
            return [n for n, _ in stack] + [start]
        elif following not in seen:
            seen.add(following)
            stack.append((following, iter(arrows.get(following, ()))))
    return None


async def _replace_drives(
    session: AsyncSession, objective: Objective, drives: list[uuid.UUID]
) -> None:
    await session.execute(
        delete(objective_drives).where(objective_drives.c.objective_id == objective.id)
    )
    if drives:
        await session.execute(
            insert(objective_drives),
            [{"objective_id": objective.id, "drives_id": effect} for effect in drives],
        )


async def create_objective(
    session: AsyncSession, scorecard_id: uuid.UUID, body: ObjectiveCreate
) -> Objective:
    fields = body.model_dump()
    drives: list[uuid.UUID] = fields.pop("drives")
    # Locked while arrows are drawn: the objectives they point at cannot go meanwhile.
    scorecard = await get_scorecard(session, scorecard_id, for_update=bool(drives))
    _check_perspective(scorecard, body.perspective)
    objective = Objective(id=new_id(), scorecard_id=scorecard_id, **fields)
    if drives:
        await _check_drives(session, scorecard_id, objective.id, drives)
    session.add(objective)
    await session.flush()
    await _replace_drives(session, objective, drives)
    await session.refresh(objective, ["drives"])
    await record(
        session,
        Action.objective_created,
        resource_id=objective.id,
        scorecard_id=scorecard_id,
        changes=diff({}, snapshot(objective)),
    )
    await session.commit()
    return objective


async def update_objective(
    session: AsyncSession, objective_id: uuid.UUID, body: ObjectiveUpdate, if_match: str | None
) -> Objective:
    objective, scorecard = await lock_in_scorecard(session, Objective, objective_id, "objective")
    check_if_match(if_match, objective.version)
    before = snapshot(objective)
    changes: dict[str, Any] = body.changes()
    if "perspective" in changes and changes["perspective"] != objective.perspective:
        _check_perspective(scorecard, changes["perspective"])
        # A measure's perspective always agrees with its objective's.
        await session.execute(
            update(Measure)
            .where(Measure.objective_id == objective_id)
            .values(perspective=changes["perspective"], version=Measure.version + 1)
        )
    if "drives" in changes:
        drives = changes.pop("drives")
        await _check_drives(session, scorecard.id, objective_id, drives)
        await _replace_drives(session, objective, drives)
    for name, value in changes.items():
        setattr(objective, name, value)
    objective.version += 1
    await session.flush()
    await session.refresh(objective, ["drives"])
    await record(
        session,
        Action.objective_updated,
        resource_id=objective_id,
        scorecard_id=scorecard.id,
        changes=diff(before, snapshot(objective)),
    )
    await session.commit()
    return objective


async def delete_objective(
    session: AsyncSession, objective_id: uuid.UUID, *, cascade: bool, if_match: str | None
) -> None:
    objective, _ = await lock_in_scorecard(session, Objective, objective_id, "objective")
    check_if_match(if_match, objective.version)
    if not cascade and await session.scalar(
        select(exists().where(Measure.objective_id == objective_id))
    ):
        raise Conflict("objective still has measures; delete them or use ?cascade=true")
    before = snapshot(objective)
    # The objectives that drive it lose an arrow (the cascade): a new version each.
    await session.execute(
        update(Objective)
        .where(
            Objective.id.in_(
                select(objective_drives.c.objective_id).where(
                    objective_drives.c.drives_id == objective_id
                )
            )
        )
        .values(version=Objective.version + 1)
    )
    await session.execute(delete(Objective).where(Objective.id == objective_id))
    await record(
        session,
        Action.objective_deleted,
        resource_id=objective_id,
        scorecard_id=objective.scorecard_id,
        changes=diff(before, {}),
    )
    await session.commit()
