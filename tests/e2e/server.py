"""Real processes on free 127.0.0.1 ports: `scorecard serve` for tests that cross processes, and
any HTTP server for the benchmarks (bench/ imports these; this module is their one owner)."""

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


def cli_key(database_url: str, *, name: str = "test", scope: str = "admin") -> str:
    """A new API key, made as a user makes the first one: `scorecard api-keys create`."""
    created = scorecard_cli(
        "api-keys", "create", "--name", name, "--scope", scope, env={"DATABASE_URL": database_url}
    )
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


@contextmanager
def running_http_process(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    cwd: Path | None = None,
    start_timeout: float = 30.0,
    stop_timeout: float = 15.0,
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run `command --host 127.0.0.1 --port P` (in the environment `env`, by default this
    process's) until its GET /healthz answers 200; yield
    (base_url, process); SIGTERM it on exit (SIGKILL after `stop_timeout`).

    Output goes to a file, `process.log_path`: a pipe nobody reads would fill up and stall a
    chatty server. Without `log_path` it is a temporary file, deleted on exit."""
    port = free_port()
    keep_log = log_path is not None
    if log_path is None:
        with tempfile.NamedTemporaryFile(
            prefix="scorecard-serve-", suffix=".log", delete=False
        ) as f:
            log_path = Path(f.name)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=os.environ if env is None else env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    process.log_path = str(log_path)  # type: ignore[attr-defined]
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited early:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not start within {start_timeout:.0f} s")
            time.sleep(0.1)
        yield base_url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if not keep_log:
            log_path.unlink(missing_ok=True)


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
    """`scorecard serve ARGS` on `database_url` (None: its embedded PostgreSQL, see
    `server_env`), logging JSON to `process.log_path`; yields (base_url, process)."""
    with running_http_process(
        [sys.executable, "-m", "app", "serve", *args],
        env=server_env(database_url, env),
        start_timeout=start_timeout,
    ) as running:
        yield running
