"""Engine, sessions and the ORM base. One engine per process, built in the app's lifespan."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID, uuid4

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, TextClause, func, make_url, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.core.errors import NotFound
from app.core.jsonutil import loads

# Stable constraint names, so Alembic migrations can name what they drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Timestamped:
    """Mutable resources: optimistic-concurrency `version` plus creation/update times."""

    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    # Read server-set timestamps back with RETURNING, so responses never need a second query.
    __mapper_args__ = {"eager_defaults": True}


# Prepared statements keep one generic plan. The window statistics statement (app/scores/
# data.py) takes its windows as arrays, so a plan made for their values prunes nothing more,
# yet planning its laterals over every monthly partition of `readings` cost ~3 ms a run
# (against 0.4 ms to execute); PostgreSQL's default kept re-planning it. Partitions are still
# pruned, at execution.
_SERVER_SETTINGS = {"application_name": "scorecard", "plan_cache_mode": "force_generic_plan"}


def make_engine(url: str, *, pool_size: int = 5, pgbouncer: bool = False) -> AsyncEngine:
    """The ORM's pool keeps `pool_size` connections and may open as many more at peaks.
    `pgbouncer`: `url` leads to a transaction-mode pooler (see `pgbouncer_connect_args`)."""
    connect_args: dict[str, Any] = {"server_settings": _SERVER_SETTINGS}
    if pgbouncer:
        connect_args |= pgbouncer_connect_args()
        # Named prepared statements, each used in the transaction that made it only.
        connect_args["prepared_statement_cache_size"] = 0
        connect_args["prepared_statement_name_func"] = _unique_statement_name
    return create_async_engine(
        url,
        # Errors would otherwise quote every bound parameter ("[parameters: …]") wherever they
        # are logged or shown: key hashes, signing secrets, learners' data.
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        # orjson reads a jsonb number beyond 64 bits (an xAPI score of 1e308 comes back as 309
        # digits) as a float that it can write again; the json module's int could not be.
        json_deserializer=loads,
        connect_args=connect_args,
    )


def pgbouncer_connect_args() -> dict[str, Any]:
    """asyncpg's options behind PgBouncer in transaction mode, where each transaction may run
    on another server connection: a statement prepared in one is unknown to the next, so none
    is cached (asyncpg then re-sends an unnamed statement with its parameters, in one go).
    PgBouncer refuses unknown startup parameters: only application_name is sent."""
    return {"statement_cache_size": 0, "server_settings": {"application_name": "scorecard"}}


def _unique_statement_name() -> str:
    # Server connections are shared: a name must not clash with another client's statement.
    return f"__asyncpg_{uuid4().hex}__"


def make_sessionmaker(
    engine: AsyncEngine, *, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """`info`: what every session's `info` starts with (e.g. the caches its owner built)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info=info)


# `session.info[REQUEST_STATE]`: the state of the request a session serves. Authentication
# leaves the caller there (`state.actor`, an `app.audit.log.Actor`) before any service code
# runs, whatever order FastAPI solves the dependencies in; the audit log reads it at write time.
REQUEST_STATE = "request.state"


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session per request. Services commit their own unit of work; anything left open is
    rolled back when the request ends, so a failed request never leaves half a change."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        session.info[REQUEST_STATE] = request.state
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def make_read_pool(
    engine: AsyncEngine,
    *,
    max_size: int = 5,
    url: str | None = None,
    min_size: int = 1,
    connect_timeout: float = 60,
    pgbouncer: bool = False,
) -> asyncpg.Pool:
    """A plain asyncpg pool beside the engine's, to the same database (or to `url`: a read
    replica's), for the hottest reads (API keys, scores): no ORM session is built for them
    (about 15% of a cached score request's CPU, measured). Statements on it run outside any
    transaction. With `min_size` 0 nothing connects until the pool is first used.
    `pgbouncer`: the database is reached through PgBouncer in transaction mode."""
    args, params = engine.dialect.create_connect_args(engine.url if url is None else make_url(url))
    # The URL may carry SQLAlchemy's own options (prepared_statement_cache_size, ...).
    accepted = inspect.signature(asyncpg.connect).parameters
    options: dict[str, Any] = {
        "timeout": connect_timeout,
        **{n: v for n, v in params.items() if n in accepted},
        # The hot reads write numbers from PostgreSQL's text form (app.core.reads): the
        # shortest round-trip digits, whatever the server's default. (Through PgBouncer: the
        # server's default, which is that since PostgreSQL 12.)
        "server_settings": {**_SERVER_SETTINGS, "extra_float_digits": "1"},
        **(pgbouncer_connect_args() if pgbouncer else {}),
    }
    return await asyncpg.create_pool(
        *args,
        **options,
        min_size=min_size,
        max_size=max_size,
        reset=_end_transaction,
    )


async def _end_transaction(connection: asyncpg.Connection) -> None:
    """On release to the read pool. Its users change no session state (no SET, LISTEN or
    advisory lock), so asyncpg's default reset (one more round trip per use: RESET ALL,
    UNLISTEN *, ...) buys nothing; only a transaction left open must not survive."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, in the session's transaction: hot write paths
    skip SQLAlchemy's per-statement and per-row overhead (2-4x on small queries, measured).

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its own first statement; a statement
    sent here before that would run outside any transaction (a row lock would be released at
    once), so BEGIN is sent here first.

    The one use of a private SQLAlchemy attribute in the app: the adapter has no public way to
    begin now. Sending BEGIN ourselves would not do (the adapter would then fail its own
    BEGIN), nor would a `SELECT 1` through the session (a round trip more on every write).
    Hence the upper bound on SQLAlchemy in pyproject.toml, and the tests that pin it
    (tests/scores/test_definitions.py: a lock taken first thing on this connection is held,
    and the connection is in the session's transaction)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    if not driver.is_in_transaction():
        await raw.dbapi_connection._start_transaction()  # type: ignore[union-attr]
    return driver


Row = TypeVar("Row", bound=Base)


async def get_or_404(
    session: AsyncSession, model: type[Row], row_id: UUID, *, what: str, for_update: bool = False
) -> Row:
    """The row with this id (locked if asked, and then read afresh even if the session holds
    it already), or a 404 naming `what`.

    The lock is FOR NO KEY UPDATE, as writers take on measures: it serialises editors, but not
    the KEY SHARE locks of foreign-key checks, so inserting rows that reference this one
    (readings of a measure) never waits for an editor. With FOR UPDATE, such waits closed
    deadlock cycles between editors and writers (tests/scores/test_definitions.py)."""
    query = select(model).where(model.id == row_id)  # type: ignore[attr-defined]
    if for_update:
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row


async def delete_in_batches(
    engine: AsyncEngine, statement: TextClause, *, days: int, batch: int, max_batches: int
) -> int:
    """Run a retention DELETE (`statement`, taking `:days` and `:batch`) in short transactions
    of at most `batch` rows, so no lock is held long, until one deletes fewer than `batch`
    or `max_batches` have run (the rest waits for the next run); returns how many rows went."""
    deleted = 0
    for _ in range(max_batches):
        async with engine.begin() as connection:
            result = await connection.execute(statement, {"days": days, "batch": batch})
        deleted += result.rowcount
        if result.rowcount < batch:
            break
    return deleted
