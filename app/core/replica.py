"""Reads on a streaming replica (`SCORECARD_READ_DATABASE_URL`), never older than the request.

Score, history, dashboard and list reads may run on a replica, but a client must never miss a
write that committed before its read began (its own, or anyone's). So every routed read:

1. reads the primary's WAL position first: fused into the API-key check, which stays on the
   primary (a revoked key stops working at once), or one small statement where no key is
   checked (shared dashboards);
2. asks the replica whether it has replayed at least that far, and runs there only if so;
3. otherwise, or when the replica cannot be reached or fails, runs on the primary: never a
   5xx because of the replica alone. Each fallback is counted by reason and logged at debug.

The position is `pg_current_wal_insert_lsn()`: a commit has inserted its record before it
returns, whatever `synchronous_commit` says, so a replica past that position shows it.

After a connection failure the replica is left alone for `RETRY_AFTER` seconds, so a dead
replica costs no connect timeout per request. Without a replica configured, reads take the
read pool as before: the same statements, no extra round trip.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import structlog
from fastapi import Request
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import make_read_pool
from app.core.settings import Settings

log = structlog.get_logger(__name__)

# The primary's position, as text (asyncpg has no codec for pg_lsn).
PRIMARY_POSITION = "pg_current_wal_insert_lsn()::text"
_POSITION = f"SELECT {PRIMARY_POSITION}"
# NULL when the server is not a standby: never caught up, so the primary answers.
_CAUGHT_UP = "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)"
_REPLAY_STATE = """
SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed,
    CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS paused
"""
_LAG_BYTES = "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::text::pg_lsn)"

RETRY_AFTER = 5.0

READS = Counter(
    "scorecard_replica_reads_total",
    "Score, history, dashboard and list reads while a read replica is configured, by the "
    "server that answered (replica or primary).",
    ["served_by"],
)
FALLBACKS = Counter(
    "scorecard_replica_fallbacks_total",
    "Reads the primary answered instead of the replica: lag (not replayed far enough), "
    "error (unreachable or failed), down (skipped for a few seconds after an error).",
    ["reason"],
)
_BY_REPLICA, _BY_PRIMARY = READS.labels("replica"), READS.labels("primary")
_FALLBACK = {reason: FALLBACKS.labels(reason) for reason in ("lag", "error", "down")}

# The replica cannot be used now: connection trouble, no answer in time, a server shutting
# down, starting up or full, a login it refuses.
_UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
    asyncpg.exceptions.InvalidCatalogNameError,
)
# Anything else the replica's server raises (a query cancelled by a recovery conflict, ...)
# is retried on the primary, which raises it again if it was the statement's own fault.
_REPLICA_FAILURES = (*_UNREACHABLE, asyncpg.PostgresError)

Result = TypeVar("Result")


class ReadRouter:
    """Where routed reads run: the primary's read pool, or the replica's when it is caught
    up. One per app (`app.state.reads`)."""

    def __init__(
        self, primary: asyncpg.Pool, replica: asyncpg.Pool | None = None, *, timeout: float = 1.0
    ) -> None:
        self.primary, self.replica, self.timeout = primary, replica, timeout
        self._down_until = 0.0

    async def close(self) -> None:
        if self.replica is not None:
            await self.replica.close()

    async def position(self, request: Request, *, now: bool = False) -> str:
        """The primary's WAL position at the start of this request (the key check's, or
        read now), or, with `now`, at this moment."""
        position: str | None = None if now else getattr(request.state, "primary_position", None)
        if position is None:
            position = request.state.primary_position = await self.primary.fetchval(_POSITION)
        return position

    async def run(
        self,
        request: Request,
        read: Callable[[asyncpg.Connection], Awaitable[Result]],
        *,
        since_now: bool = False,
    ) -> Result:
        """`read` on a connection at least as recent as the primary when the request began
        (`since_now`: as the primary is now, for a read that must include what an earlier
        statement of the request saw on it). It may run twice (on the replica, then on the
        primary): it must only read."""
        if self.replica is not None:
            position = await self.position(request, now=since_now)
            try:
                if (connection := await self._caught_up(position)) is not None:
                    try:
                        result = await read(connection)
                    finally:
                        await self.replica.release(connection)
                    _BY_REPLICA.inc()
                    return result
            except _REPLICA_FAILURES as exc:
                self._failed(exc)
            _BY_PRIMARY.inc()
        async with self.primary.acquire() as connection:
            return await read(connection)

    async def _caught_up(self, position: str) -> asyncpg.Connection | None:
        """A replica connection (the caller releases it) that has replayed up to `position`;
        None (counted) if the replica lags or is being left alone after a failure."""
        assert self.replica is not None
        if time.monotonic() < self._down_until:
            _FALLBACK["down"].inc()
            return None
        # No wait limit for a free connection: a busy replica queues reads as the primary
        # would. Connecting is bounded by the pool's connect timeout, the check below by ours.
        connection = await self.replica.acquire()
        try:
            caught_up = await connection.fetchval(_CAUGHT_UP, position, timeout=self.timeout)
        except BaseException:
            await self.replica.release(connection)
            raise
        if caught_up:
            return connection
        await self.replica.release(connection)
        _FALLBACK["lag"].inc()
        log.debug("read replica behind the primary; reading from the primary", position=position)
        return None

    def _failed(self, exc: BaseException) -> None:
        _FALLBACK["error"].inc()
        if isinstance(exc, _UNREACHABLE):
            self._down_until = time.monotonic() + RETRY_AFTER
        log.debug("read replica failed; reading from the primary", error=type(exc).__name__)

    async def readiness(self) -> dict[str, Any]:
        """The replica's state for /readyz: informational, since reads fall back."""
        assert self.replica is not None
        try:
            async with self.replica.acquire(timeout=self.timeout) as connection:
                state = await connection.fetchrow(_REPLAY_STATE, timeout=self.timeout)
        except _REPLICA_FAILURES as exc:
            return {"status": "fail", "error": type(exc).__name__}
        if not state["standby"]:
            return {"status": "fail", "error": "not a standby: reads use the primary"}
        try:  # the primary's own check reports it when it does not answer
            lag: int | None = int(await self.primary.fetchval(_LAG_BYTES, state["replayed"]))
        except _REPLICA_FAILURES:
            lag = None
        return {"status": "pass", "replay_lag_bytes": lag, "replay_paused": state["paused"]}


async def open_read_router(
    primary: asyncpg.Pool, engine: AsyncEngine, settings: Settings, *, pool_size: int
) -> ReadRouter:
    """The app's router: to the replica when `SCORECARD_READ_DATABASE_URL` is set. Its pool
    connects on first use, so a replica that is down at start-up delays nothing."""
    url = settings.scorecard_read_database_url
    timeout = settings.scorecard_read_replica_timeout
    if url is None:
        return ReadRouter(primary, timeout=timeout)
    replica = await make_read_pool(
        engine,
        url=url,
        max_size=pool_size,
        min_size=0,
        connect_timeout=timeout,
        pgbouncer=settings.scorecard_db_pgbouncer,
    )
    return ReadRouter(primary, replica, timeout=timeout)
