"""The sweeper: time alone moves statuses (a new period starts, a prorated target grows), so the
worker re-evaluates every scorecard periodically and records the crossings it finds."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.logging import failure_fields
from app.ops.metrics import BACKGROUND_FAILURES
from app.thresholds.status import sweep_scorecard

SWEEP_INTERVAL_SECONDS = 30.0  # crossings made by time are recorded within a minute
log = structlog.get_logger(__name__)
# By table, not through the Scorecard model: scorecards/ writes through this package.
_SCORECARD_IDS = text("SELECT id FROM scorecards ORDER BY id")


async def sweep(sessionmaker: async_sessionmaker[AsyncSession], now: datetime | None = None) -> int:
    """One pass over every scorecard, a transaction each; returns how many statuses moved.
    Safe with several workers: each scorecard is swept under an advisory lock.

    A scorecard whose evaluation raises (a stored row the service would not write, a bug) is
    rolled back, logged and counted, and the pass goes on: one bad scorecard must not keep the
    ones after it from ever being swept."""
    async with sessionmaker() as session:
        scorecard_ids = (await session.scalars(_SCORECARD_IDS)).all()
    moved = failed = 0
    for scorecard_id in scorecard_ids:
        try:
            async with sessionmaker() as session:  # closing it rolls back what failed
                moved += await sweep_scorecard(session, scorecard_id, now)
        except Exception as exc:
            failed += 1
            BACKGROUND_FAILURES.labels("sweep").inc()
            log.warning(
                "sweeping a scorecard failed; skipped",
                scorecard_id=str(scorecard_id),
                **failure_fields(exc),
            )
    if moved or failed:
        log.info("sweep", scorecards=len(scorecard_ids), statuses_moved=moved, failed=failed)
    return moved
