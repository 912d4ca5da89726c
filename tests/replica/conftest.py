"""A real streaming replica of the test database, and an app that reads from it.

The replica is a `pg_basebackup -R` of the primary, started with `pg_ctl` on a port of its own
(127.0.0.1) with the same PostgreSQL binaries as the primary: the embedded server's, or for
TEST_DATABASE_URL the system's of the same major version. Once per session (a few seconds)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url

from app.auth.keys import Scope
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import make_key

PGSERVER_BIN = Path(__import__("pgserver").__file__).parent / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _connect_args(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    return {
        "host": parsed.query.get("host") or parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "password": parsed.password or None,
        "database": parsed.database or "postgres",
    }


async def _server_major(url: str) -> int:
    connection = await asyncpg.connect(**_connect_args(url))
    try:
        return int(await connection.fetchval("SHOW server_version_num")) // 10000
    finally:
        await connection.close()


def _bin_dir(major: int) -> Path:
    """Binaries of the primary's major version (a replica must match it)."""
    embedded = subprocess.run(
        [PGSERVER_BIN / "postgres", "--version"], capture_output=True, text=True, check=True
    ).stdout
    if f" {major}." in embedded:
        return PGSERVER_BIN
    system = Path(f"/usr/lib/postgresql/{major}/bin")
    if (system / "pg_basebackup").exists():
        return system
    raise RuntimeError(f"no PostgreSQL {major} binaries to run a replica of the test database")


def _owner_of(args: dict[str, Any]) -> dict[str, Any]:
    """Run the server as the user that runs the primary when it is a local socket directory
    (pgserver's own user when tests run as root); otherwise as ourselves."""
    host = Path(args["host"])
    if os.geteuid() == 0 and host.is_dir():
        return {"user": host.stat().st_uid}
    return {}


@pytest.fixture(scope="session")
def replica_url(database_url: str) -> Iterator[str]:
    args = _connect_args(database_url)
    bin_dir = _bin_dir(asyncio.run(_server_major(database_url)))
    owner = _owner_of(args)
    scratch = Path(tempfile.mkdtemp(prefix="scorecard-replica-"))
    data_dir = scratch / "data"
    if owner:
        os.chown(scratch, owner["user"], -1)
    environment = {**os.environ, "PGPASSWORD": args["password"] or ""}
    subprocess.run(
        [
            bin_dir / "pg_basebackup",
            "-D",
            data_dir,
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "-h",
            str(args["host"]),
            "-p",
            str(args["port"]),
            "-U",
            args["user"],
        ],
        check=True,
        capture_output=True,
        env=environment,
        **owner,
    )
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='{scratch}'"
    pg_ctl = [bin_dir / "pg_ctl", "-D", str(data_dir)]
    subprocess.run(
        [*pg_ctl, "-w", "-l", str(scratch / "log"), "-o", options, "start"],
        check=True,
        capture_output=True,
        **owner,
    )
    try:
        yield (
            f"postgresql+asyncpg://{args['user']}:{args['password'] or ''}"
            f"@127.0.0.1:{port}/{args['database']}"
        )
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True, **owner)
        shutil.rmtree(scratch, ignore_errors=True)


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
        connection = await asyncpg.connect(**_connect_args(url))
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
