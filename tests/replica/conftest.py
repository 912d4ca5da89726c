"""An app that reads from a real streaming replica of the test database (`replica_url`,
tests/replica_server.py), and the replica itself as its operator would drive it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from app.auth.keys import Scope
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import make_key
from tests.replica_server import connect_args


@pytest.fixture(scope="session")
async def replica_app(database_url: str, replica_url: str) -> AsyncIterator[Any]:
    """The app, configured to read from the replica; scores of "now" are never reused, so
    that every score read is a read of the database."""
    settings = Settings(
        database_url=None,
        log_level="WARNING",
        log_format="console",
        scorecard_read_database_url=replica_url,
        scorecard_score_cache_seconds=0,
    )
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def replica_client(replica_app: Any, sessionmaker: Any, clean_db: str) -> AsyncIterator[Any]:
    """A client of the replica-reading app holding an admin key."""
    key = await make_key(sessionmaker, Scope.admin)
    transport = httpx.ASGITransport(app=replica_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"Authorization": f"Bearer {key}"}
    ) as client:
        yield client


class Replica:
    """The replica server itself, as its operator would drive it."""

    def __init__(self, url: str, primary_url: str) -> None:
        self.url, self.primary_url = url, primary_url

    async def _run(self, url: str, sql: str, *args: Any) -> Any:
        connection = await asyncpg.connect(**connect_args(url))
        try:
            return await connection.fetchval(sql, *args)
        finally:
            await connection.close()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._run(self.url, sql, *args)

    async def pause(self) -> None:
        await self.fetchval("SELECT pg_wal_replay_pause()")

    async def resume(self) -> None:
        await self.fetchval("SELECT pg_wal_replay_resume()")

    async def catch_up(self) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        position = await self._run(self.primary_url, "SELECT pg_current_wal_insert_lsn()::text")
        deadline = time.monotonic() + 60
        while not await self.fetchval(
            "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", position
        ):
            assert time.monotonic() < deadline, "the replica did not catch up"
            await asyncio.sleep(0.02)


@pytest.fixture
async def replica(replica_url: str, database_url: str) -> AsyncIterator[Replica]:
    """The replica, replaying when the test starts and again after it."""
    server = Replica(replica_url, database_url)
    await server.resume()
    yield server
    await server.resume()
