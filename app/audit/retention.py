"""Retention: audit entries are kept `SCORECARD_AUDIT_RETENTION_DAYS` (default 400), then
pruned by the worker in short transactions of at most PRUNE_BATCH entries, oldest first."""

from __future__ import annotations

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import delete_in_batches

PRUNE_BATCH = 1000
log = structlog.get_logger(__name__)

# Served by ix_audit_log_at from its old end. SKIP LOCKED: two workers prune side by side.
# MATERIALIZED: the batch is chosen once (an IN (… LIMIT … SKIP LOCKED) subquery that the
# plan runs again picks other rows: two batches of 1,000 once deleted 2,500).
_PRUNE = text("""
WITH doomed AS MATERIALIZED (
    SELECT id FROM audit_log
    WHERE at < now() - make_interval(days => :days)
    ORDER BY at, id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
DELETE FROM audit_log t USING doomed WHERE t.id = doomed.id
""")


async def prune_audit_log(engine: AsyncEngine, retention_days: int, max_batches: int = 50) -> int:
    """Delete entries older than `retention_days`, at most `max_batches` batches per call
    (the rest go on the next run); returns how many went."""
    pruned = await delete_in_batches(
        engine, _PRUNE, days=retention_days, batch=PRUNE_BATCH, max_batches=max_batches
    )
    if pruned:
        log.info("audit_entries_pruned", entries=pruned, retention_days=retention_days)
    return pruned
