"""Test fixtures: a real PostgreSQL (embedded via pgserver, or TEST_DATABASE_URL), built by the
real Alembic migrations; the app in-process over httpx; tables emptied after every test."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.auth.keys import Scope, create_api_key
from app.core.embedded import start_embedded, stop_embedded
from app.core.migrate import upgrade
from app.core.settings import Settings, normalise_database_url
from app.main import create_app
from app.models import Base
from tests.replica_server import streaming_replica


async def _reset_schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A database at schema head. TEST_DATABASE_URL is wiped first: point it at a test DB."""
    if os.environ.get("TEST_DATABASE_URL"):
        url = normalise_database_url(os.environ["TEST_DATABASE_URL"])
        asyncio.run(_reset_schema(url))
        upgrade(url)
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="scorecard-test-") as scratch:
        data_dir = Path(scratch) / "postgres"  # its lock files go beside it, in scratch
        url = start_embedded(data_dir, cleanup_mode="delete")
        try:
            upgrade(url)
            yield url
        finally:
            stop_embedded(data_dir)  # before its directory disappears


@pytest.fixture(scope="session")
def replica_url(database_url: str) -> Iterator[str]:
    """A streaming replica of the test database (started on first use)."""
    with streaming_replica(database_url) as url:
        yield url


@pytest.fixture(scope="session")
def settings(request: pytest.FixtureRequest) -> Settings:
    """TEST_READ_REPLICA=1: the app reads from a streaming replica, so every test that writes
    and then reads also checks that no committed write goes missing."""
    replica = (
        request.getfixturevalue("replica_url") if os.environ.get("TEST_READ_REPLICA") else None
    )
    return Settings(
        database_url=None,
        log_level="WARNING",
        log_format="console",
        scorecard_read_database_url=replica,
    )


@pytest.fixture(scope="session")
async def app(database_url: str, settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings, database_url=database_url)
    application.state.database_url = database_url
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def sessionmaker(app: Any) -> async_sessionmaker[AsyncSession]:
    return app.state.sessionmaker  # type: ignore[no-any-return]


@pytest.fixture
async def clean_db(app: Any) -> AsyncIterator[str]:
    """The database URL, with every table emptied after the test; the test starts from fresh
    caches."""
    for cache in (app.state.score_cache, app.state.crossing_caches):
        cache.reset()
    yield app.state.database_url
    # DELETE, children first: on tables this small it is ~10x faster than TRUNCATE.
    async with app.state.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


async def make_key(sessionmaker: async_sessionmaker[AsyncSession], scope: Scope) -> str:
    async with sessionmaker() as session:
        _, plaintext = await create_api_key(session, f"test-{scope}", scope)
        await session.commit()
    return plaintext


@pytest.fixture
async def anon(app: Any, clean_db: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client without credentials."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def client(anon: httpx.AsyncClient, sessionmaker: Any) -> httpx.AsyncClient:
    """A client holding an admin key."""
    anon.headers["Authorization"] = f"Bearer {await make_key(sessionmaker, Scope.admin)}"
    return anon


@pytest.fixture
async def scoped_client(app: Any, sessionmaker: Any, clean_db: str) -> AsyncIterator[Any]:
    """`await scoped_client(Scope.read)` → a client holding a key of that scope."""
    clients: list[httpx.AsyncClient] = []

    async def make(scope: Scope) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        key = await make_key(sessionmaker, scope)
        c = httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"Authorization": f"Bearer {key}"}
        )
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()
