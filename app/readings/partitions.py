"""The monthly partitions of `readings` (migration 0014): which months are covered, and creating
the missing ones — ahead of time by the worker, or on demand by the write path when a reading
falls in a month no partition covers yet.

There is no DEFAULT partition on purpose: with one, PostgreSQL can no longer read the partitions
in order, and "the latest reading before t" (a LIMIT 1 in the window query) becomes a merge that
descends every older partition's index instead of stopping in the newest one that has a row.
A partition is created as a plain table and then ATTACHed: that takes SHARE UPDATE EXCLUSIVE
on `readings` (reads and writes go on), where `CREATE TABLE … PARTITION OF` would take ACCESS
EXCLUSIVE."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

# How many months from the current one the worker keeps created (this one included).
MONTHS_AHEAD = 3
PARTITION_INTERVAL_SECONDS = 3600.0
_LOCK = text("SELECT pg_advisory_xact_lock(0x5C0E9A27)")  # one creator at a time
# Each partition's bounds; NULL for MINVALUE. The bound literals carry their offset, so they
# cast back exactly whatever the session's TimeZone.
_BOUNDS = text(r"""
SELECT (regexp_match(b.expr, 'FROM \(''([^'']+)''\)'))[1]::timestamptz AS lower,
       (regexp_match(b.expr, 'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS expr) b
WHERE i.inhparent = 'readings'::regclass
""")
log = structlog.get_logger(__name__)


def month_of(instant: datetime) -> datetime:
    """The start of the UTC month holding `instant`: partitions are cut at UTC months."""
    utc = instant.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def next_month(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"readings_y{month.year:04d}m{month.month:02d}"


def is_missing_partition(exc: Exception) -> bool:
    """asyncpg's error for a row no partition takes: a check violation of no named constraint
    (a CHECK that fails names its constraint)."""
    return (
        getattr(exc, "sqlstate", None) == "23514"
        and getattr(exc, "constraint_name", None) is None
        and "no partition" in str(exc)
    )


async def create_partitions(connection: AsyncConnection, months: Iterable[datetime]) -> list[str]:
    """Create the partitions of these months (UTC month starts) that no partition covers, in
    the connection's transaction, under an advisory lock so that concurrent creators (workers,
    writers) do not race; the names created."""
    await connection.execute(_LOCK)
    covered = [(row.lower, row.upper) for row in await connection.execute(_BOUNDS)]
    created = []
    for month in sorted(set(months)):
        if any(
            (lower is None or lower <= month) and (upper is None or month < upper)
            for lower, upper in covered
        ):
            continue
        name, until = partition_name(month), next_month(month)
        await connection.execute(
            text(
                f"CREATE TABLE {name} (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            )
        )
        await connection.execute(
            text(
                f"ALTER TABLE readings ATTACH PARTITION {name}"
                f" FOR VALUES FROM ('{month.isoformat()}') TO ('{until.isoformat()}')"
            )
        )
        covered.append((month, until))
        created.append(name)
    if created:
        log.info("reading_partitions_created", partitions=created)
    return created


async def create_for_readings(session: AsyncSession, observed: Iterable[datetime]) -> list[str]:
    """On demand, in the writer's transaction: the partitions these instants need."""
    connection = await session.connection()
    return await create_partitions(connection, {month_of(instant) for instant in observed})


async def create_ahead(
    engine: AsyncEngine, months: int = MONTHS_AHEAD, now: datetime | None = None
) -> list[str]:
    """The worker's job: the current month's partition and the next ones, `months` in all."""
    month = month_of(now or datetime.now(UTC))
    wanted = []
    for _ in range(months):
        wanted.append(month)
        month = next_month(month)
    async with engine.begin() as connection:
        return await create_partitions(connection, wanted)
