"""A real PgBouncer (Debian's package) in transaction mode, in front of a test database."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url

from tests.e2e.server import free_port

PGBOUNCER = shutil.which("pgbouncer") or next(
    (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
)


@dataclass
class Pooler:
    url: str  # same database, user and password as the one it stands in front of
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running_pgbouncer(database_url: str, *, server_connections: int = 2) -> Iterator[Pooler]:
    """PgBouncer on a free 127.0.0.1 port in transaction mode, sharing `server_connections`
    connections to the database of `database_url` among all its clients."""
    assert PGBOUNCER is not None
    target = make_url(database_url)
    host = target.query.get("host") or target.host or "127.0.0.1"
    assert isinstance(host, str)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="scorecard-pgbouncer-") as directory:
        config = Path(directory) / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={host} port={target.port or 5432} user={target.username}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            # The test database trusts its clients; PgBouncer logs in as the user above.
            "auth_type = any\n"
            f"admin_users = {target.username}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {server_connections}\nmin_pool_size = 0\n"
            "max_client_conn = 500\n"
            # Transactions wait for one of the few server connections, never fail for one.
            "query_wait_timeout = 60\n"
        )
        command = [PGBOUNCER, str(config)]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root: as the owner of the socket
            command[1:1] = ["-u", _socket_owner(host)]
            os.chmod(directory, 0o755)
        log_path = Path(directory) / "pgbouncer.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        pooler = Pooler(
            target.set(host="127.0.0.1", port=port, query={}).render_as_string(hide_password=False),
            process,
        )
        try:
            _wait_for_port(port, process, log_path)
            yield pooler
        finally:
            pooler.stop()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited:\n{log_path.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("pgbouncer did not start") from None
            time.sleep(0.05)


def _socket_owner(host: str) -> str:
    """Who may reach the server's Unix socket (its directory's owner), or nobody for TCP."""
    return pwd.getpwuid(os.stat(host).st_uid).pw_name if host.startswith("/") else "nobody"
