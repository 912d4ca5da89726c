"""A real streaming replica of a test database: a `pg_basebackup -R` of the primary, started
with `pg_ctl` on a port of its own (127.0.0.1) with the same PostgreSQL binaries as the
primary: the embedded server's, or for TEST_DATABASE_URL the system's of the same major
version. A few seconds to start."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import make_url

PGSERVER_BIN = Path(__import__("pgserver").__file__).parent / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def connect_args(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    return {
        "host": parsed.query.get("host") or parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "password": parsed.password or None,
        "database": parsed.database or "postgres",
    }


async def _server_major(url: str) -> int:
    connection = await asyncpg.connect(**connect_args(url))
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


@contextmanager
def streaming_replica(database_url: str) -> Iterator[str]:
    """A replica of the database at `database_url`, running until the block ends: its URL."""
    args = connect_args(database_url)
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
