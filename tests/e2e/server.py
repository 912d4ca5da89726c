"""Run `scorecard serve` as a real process on a free port, for tests that cross processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scorecard_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def server_env(database_url: str | None, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a server process; `database_url=None`: no DATABASE_URL at all, so
    the server starts its embedded PostgreSQL (set SCORECARD_DATA_DIR in `env`)."""
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url is not None:
        base["DATABASE_URL"] = database_url
    return {**base, "LOG_FORMAT": "json", **(env or {})}


@contextmanager
def running_server(
    database_url: str | None,
    *args: str,
    env: dict[str, str] | None = None,
    start_timeout: float = 30,
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Yields (base_url, process); the server's output goes to the file `process.log_path`
    (a pipe nobody reads would fill up and stall a chatty server). `database_url=None`: the
    server uses its embedded PostgreSQL (see `server_env`)."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="scorecard-serve-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), *args],
        env=server_env(database_url, env),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.log_path = log.name  # type: ignore[attr-defined]
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{Path(log.name).read_text()}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start within {start_timeout} s")
            time.sleep(0.1)
        yield base_url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        Path(log.name).unlink(missing_ok=True)
