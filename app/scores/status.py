"""Crossing detection: a measure's stored `status` follows its score, and every change is
recorded as a `measure.threshold_crossed` event in the same transaction (the outbox).

Writers call `refresh_statuses` with the measures they changed, already locked; the sweeper
calls `sweep_scorecard` to catch changes that only time makes (a new period, a prorated
target moving)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import structlog
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.measures.models import Measure
from app.scores.data import fetch_window_stats, load_scorecard
from app.scoring import (
    MeasureScore,
    PeriodSelector,
    ScorecardDefinition,
    evaluate_measure,
    measure_windows,
)
from app.webhooks.events import THRESHOLD_CROSSED, emit_event

_SWEEP_LOCK = 0x5C0E5EE9  # advisory-lock namespace: one sweeper per scorecard at a time
log = structlog.get_logger(__name__)


def _with_dependents(
    definition: ScorecardDefinition, measure_ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    """`measure_ids` plus every derived measure that uses one of them, transitively."""
    keys = {m.key for m in definition.measures if m.id in measure_ids}
    grew = True
    while grew:
        grew = False
        for measure in definition.measures:
            if measure.formula and measure.key not in keys and measure.formula.keys & keys:
                keys.add(measure.key)
                grew = True
    return {m.id for m in definition.measures if m.key in keys}


async def _evaluate(
    session: AsyncSession,
    definition: ScorecardDefinition,
    measure_ids: Iterable[uuid.UUID],
    now: datetime,
) -> dict[uuid.UUID, MeasureScore]:
    ids = list(measure_ids)
    windows = set().union(
        *(measure_windows(definition, i, now, PeriodSelector.current) for i in ids)
    )
    stats = await fetch_window_stats(session, windows)
    return {i: evaluate_measure(definition, i, now, PeriodSelector.current, stats) for i in ids}


async def refresh_statuses(
    session: AsyncSession, measure_ids: Iterable[uuid.UUID], now: datetime | None = None
) -> None:
    """Re-evaluate these measures and every derived measure that uses them at `now`, store each
    status, and record an event for each change. Runs in the caller's transaction; the caller
    has locked `measure_ids`; derived dependents are locked here (after the inputs, in id order,
    the same order every writer uses, so writers cannot deadlock)."""
    now = now or datetime.now(UTC)
    requested = set(measure_ids)
    scorecard_ids = (
        await session.scalars(
            select(Measure.scorecard_id).where(Measure.id.in_(requested)).distinct()
        )
    ).all()
    for scorecard_id in scorecard_ids:
        definition, rows = await load_scorecard(session, scorecard_id)
        affected = _with_dependents(definition, requested)
        if dependents := sorted(affected - requested):
            # Re-read under the lock: another writer may have moved their status meanwhile.
            await session.scalars(
                select(Measure)
                .where(Measure.id.in_(dependents))
                .order_by(Measure.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        stored = {m.id: m for m in rows}
        scores = await _evaluate(session, definition, affected, now)
        for measure_id, score in scores.items():
            await _store(session, definition, stored[measure_id], score, now)


async def _store(
    session: AsyncSession,
    definition: ScorecardDefinition,
    measure: Measure,
    score: MeasureScore,
    now: datetime,
) -> None:
    previous = measure.status
    if score.status == previous:
        return
    # A computed status is not an edit: version and updated_at stay as they are.
    await session.execute(
        update(Measure)
        .where(Measure.id == measure.id)
        .values(status=score.status.value, updated_at=Measure.updated_at)
        .execution_options(synchronize_session=False)
    )
    measure.status = score.status.value
    thresholds = (
        next(m.thresholds for m in definition.measures if m.id == measure.id)
        or definition.thresholds
    )
    await emit_event(
        session,
        THRESHOLD_CROSSED,
        {
            "scorecard_id": str(definition.id),
            "measure_id": str(measure.id),
            "measure_key": measure.key,
            "previous_status": previous,
            "status": score.status.value,
            "value": score.value,
            "score": score.score,
            "thresholds": {"green": thresholds.green, "amber": thresholds.amber},
            "as_of": now.isoformat(),
        },
        scorecard_id=definition.id,
    )
    log.info(
        "threshold_crossed",
        measure_id=str(measure.id),
        previous_status=previous,
        status=score.status.value,
    )


async def sweep_scorecard(
    session: AsyncSession, scorecard_id: uuid.UUID, now: datetime | None = None
) -> int:
    """Re-evaluate a whole scorecard at `now`; lock and refresh only the measures whose status
    moved. Skips the scorecard when another worker is sweeping it. Commits; returns the number
    of measures re-checked under lock."""
    now = now or datetime.now(UTC)
    got_lock = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:ns, hashtext(:id))"),
        {"ns": _SWEEP_LOCK, "id": str(scorecard_id)},
    )
    if not got_lock:
        return 0
    definition, rows = await load_scorecard(session, scorecard_id)
    scores = await _evaluate(session, definition, [m.id for m in rows], now)
    moved = sorted(m.id for m in rows if scores[m.id].status.value != m.status)
    if moved:
        # Inputs before derived measures, each in id order: the writers' lock order.
        derived = {m.id for m in definition.measures if m.formula}
        for group in ([i for i in moved if i not in derived], [i for i in moved if i in derived]):
            if group:
                await session.execute(
                    select(Measure.id)
                    .where(Measure.id.in_(group))
                    .order_by(Measure.id)
                    .with_for_update()
                )
        session.expire_all()
        await refresh_statuses(session, moved, now)
    await session.commit()
    return len(moved)
