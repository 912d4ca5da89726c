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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

# How many months from the current one the worker keeps created (this one included).
MONTHS_AHEAD = 3
PARTITION_INTERVAL_SECONDS = 3600.0
# One creator at a time. A bound parameter: hex literals in SQL are PostgreSQL 16 and later.
_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=0x5C0E9A27)
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
    (a CHECK that fails names its constraint; the message may be in the server's language)."""
    return (
        getattr(exc, "sqlstate", None) == "23514" and getattr(exc, "constraint_name", None) is None
    )


Bounds = list[tuple[datetime | None, datetime | None]]  # (lower, upper); None: unbounded


def _covered(bounds: Bounds, month: datetime) -> bool:
    return any(
        (lower is None or lower <= month) and (upper is None or month < upper)
        for lower, upper in bounds
    )


class KnownPartitions:
    """The partitions' bounds as this process last read them, so that the write path can tell
    without a query that the months it writes to have partitions. Partitions are only ever
    added, so what is known stays true; a partition removed by hand is noticed by the first
    write that misses it. One per app (its lifespan) or worker, handed to sessions through
    their sessionmaker's `info`."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.bounds: Bounds = []

    def covers(self, months: Iterable[datetime]) -> bool:
        return all(_covered(self.bounds, month) for month in months)

    def covers_span(self, first: datetime, last: datetime) -> bool:
        """Whether partitions known cover every instant from `first` to `last`, without gaps."""
        at = first
        while True:
            upper = next(
                (u for lo, u in self.bounds if (lo is None or lo <= at) and (u is None or at < u)),
                at,
            )
            if upper is None or upper > last:
                return True
            if upper == at:  # no partition holds `at`
                return False
            at = upper

    def session_info(self) -> dict[str, object]:
        return {_KNOWN: self}


_KNOWN = "scorecard.known_partitions"


def _known(session: AsyncSession) -> KnownPartitions:
    known = session.info.get(_KNOWN)
    if known is None:
        known = session.info[_KNOWN] = KnownPartitions()
    return known


async def create_partitions(
    connection: AsyncConnection, months: Iterable[datetime], known: KnownPartitions | None = None
) -> list[str]:
    """Create the partitions of these months (UTC month starts) that no partition covers, in
    the connection's transaction, under an advisory lock so that concurrent creators (workers,
    writers) do not race; the names created. `known` learns the bounds."""
    await connection.execute(_LOCK)
    covered: Bounds = [(row.lower, row.upper) for row in await connection.execute(_BOUNDS)]
    created = []
    for month in sorted(set(months)):
        if _covered(covered, month):
            continue
        name, until = partition_name(month), next_month(month)
        await connection.execute(
            text(f"CREATE TABLE {name} (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
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
    if known is not None:
        known.bounds = covered
    return created


async def ensure_for_readings(session: AsyncSession, observed: Iterable[datetime]) -> None:
    """Before a writer locks its measures: the partitions these instants need, created and
    committed in a transaction of their own. Attaching a partition takes SHARE ROW EXCLUSIVE
    on `measures` (the partition gets the foreign key), which waits for every writer that
    updated a measure; done under the writer's own measure locks it deadlocked with them.
    Usually no query at all: the months are known to be covered."""
    known = _known(session)
    instants = list(observed)
    # Two comparisons per reading, not a month per reading: a batch of 10,000 every time.
    if not instants or known.covers_span(min(instants), max(instants)):
        return
    months = {month_of(instant) for instant in instants}
    if known.covers(months):
        return
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    try:
        async with engine.begin() as connection:
            # Should this session already hold a lock the creation waits for (a caller that
            # wrote before), give up rather than wait for ourselves: `create_in_transaction`.
            await connection.execute(text("SET LOCAL lock_timeout = '2s'"))
            await create_partitions(connection, months, known)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        await create_in_transaction(session, months)


async def create_in_transaction(session: AsyncSession, observed: Iterable[datetime]) -> None:
    """The fallback: the partitions these instants need, in the writer's own transaction."""
    connection = await session.connection()
    await create_partitions(
        connection, {month_of(instant) for instant in observed}, _known(session)
    )


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
        # Attaching waits for SHARE ROW EXCLUSIVE on `measures`, and every writer queues
        # behind a waiting attach: give up after a moment, the next run tries again.
        await connection.execute(text("SET LOCAL lock_timeout = '2s'"))
        return await create_partitions(connection, wanted)
