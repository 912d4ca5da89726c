"""Retention: the event log, its deliveries and their attempts are kept for
`SCORECARD_EVENT_RETENTION_DAYS` after the event, then pruned by the worker, a batch at a time.
An event with a delivery still pending or in flight is kept until it is settled."""

from __future__ import annotations

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import delete_in_batches

PRUNE_INTERVAL_SECONDS = 3600.0
PRUNE_BATCH = 1000
log = structlog.get_logger(__name__)

# Deliveries and attempts go with their event (ON DELETE CASCADE). SKIP LOCKED: two workers
# prune side by side without waiting for each other. MATERIALIZED: the batch is chosen once
# (an IN (… LIMIT … SKIP LOCKED) subquery that the plan runs again picks other rows).
_PRUNE = text("""
WITH doomed AS MATERIALIZED (
    SELECT e.id FROM events e
    WHERE e.timestamp < now() - make_interval(days => :days)
      AND NOT EXISTS (
          SELECT 1 FROM deliveries d
          WHERE d.event_id = e.id AND d.status IN ('pending', 'delivering'))
    ORDER BY e.timestamp
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
DELETE FROM events t USING doomed WHERE t.id = doomed.id
""")


async def prune_events(engine: AsyncEngine, retention_days: int, max_batches: int = 50) -> int:
    """Delete settled events older than `retention_days`, in short transactions of at most
    PRUNE_BATCH events (so no lock is held long); returns how many went."""
    pruned = await delete_in_batches(
        engine, _PRUNE, days=retention_days, batch=PRUNE_BATCH, max_batches=max_batches
    )
    if pruned:
        log.info("events_pruned", events=pruned, retention_days=retention_days)
    return pruned
