"""The background work of `serve` (in process) and `scorecard worker`, wired in one place:
webhook delivery with its periodic jobs — the period sweeper (time-driven crossings,
`app.thresholds`), the backlog gauges and the event log's retention (`app.webhooks`)."""

from __future__ import annotations

from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import make_sessionmaker
from app.core.settings import Settings
from app.thresholds.sweeper import SWEEP_INTERVAL_SECONDS, sweep
from app.webhooks.retention import PRUNE_INTERVAL_SECONDS, prune_events
from app.webhooks.worker import BACKLOG_REFRESH, Periodic, Worker, refresh_backlog_gauges


def build_worker(engine: AsyncEngine, settings: Settings) -> Worker:
    """The worker that delivers webhooks, with every periodic job (name, interval s, job)."""
    periodic: list[Periodic] = [
        ("backlog", BACKLOG_REFRESH, partial(refresh_backlog_gauges, engine)),
        ("sweep", SWEEP_INTERVAL_SECONDS, partial(sweep, make_sessionmaker(engine))),
        (
            "retention",
            PRUNE_INTERVAL_SECONDS,
            partial(prune_events, engine, settings.scorecard_event_retention_days),
        ),
    ]
    return Worker(engine, settings, periodic=periodic)
