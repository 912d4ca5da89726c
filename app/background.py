"""The background work of `serve` (in process) and `scorecard worker`, wired in one place:
webhook delivery with its periodic jobs — the monthly partitions of readings, created ahead
(`app.readings.partitions`), the period sweeper (time-driven crossings,
`app.thresholds`), overdue readings (`app.readings.due`), the backlog gauges, the event
log's retention (`app.webhooks`) and the audit log's (`app.audit`)."""

from __future__ import annotations

from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit.retention import prune_audit_log
from app.core.database import make_sessionmaker
from app.core.settings import Settings
from app.readings.due import sweep_overdue
from app.readings.partitions import PARTITION_INTERVAL_SECONDS, create_ahead
from app.scores.data import Definitions
from app.thresholds.increments import WindowCache
from app.thresholds.status import CrossingCaches
from app.thresholds.sweeper import SWEEP_INTERVAL_SECONDS, sweep
from app.webhooks.retention import PRUNE_INTERVAL_SECONDS, prune_events
from app.webhooks.worker import BACKLOG_REFRESH, Periodic, Worker, refresh_backlog_gauges


def build_worker(
    engine: AsyncEngine, settings: Settings, caches: CrossingCaches | None = None
) -> Worker:
    """The worker that delivers webhooks, with every periodic job (name, interval s, job).
    `caches`: the app's, when it runs in a `serve` process; else the worker's own."""
    caches = caches or CrossingCaches(Definitions(), WindowCache())
    sessionmaker = make_sessionmaker(engine, info=caches.session_info())
    periodic: list[Periodic] = [
        ("backlog", BACKLOG_REFRESH, partial(refresh_backlog_gauges, engine)),
        ("partitions", PARTITION_INTERVAL_SECONDS, partial(create_ahead, engine)),
        ("sweep", SWEEP_INTERVAL_SECONDS, partial(sweep, sessionmaker)),
        ("overdue", SWEEP_INTERVAL_SECONDS, partial(sweep_overdue, sessionmaker)),
        (
            "retention",
            PRUNE_INTERVAL_SECONDS,
            partial(prune_events, engine, settings.scorecard_event_retention_days),
        ),
        (
            "audit_retention",
            PRUNE_INTERVAL_SECONDS,
            partial(prune_audit_log, engine, settings.scorecard_audit_retention_days),
        ),
    ]
    return Worker(engine, settings, periodic=periodic)
