"""`scorecard serve` without DATABASE_URL owns its embedded PostgreSQL: a stop signal stops it
too, and a start after a crash (kill -9) recovers whatever the crash left behind."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.server import running_server


def postgres_of(pgdata: Path) -> list[psutil.Process]:
    """Every PostgreSQL process serving `pgdata`: the postmaster runs with `-D <pgdata>`, and
    all of them (backends too) work in that directory."""
    found = []
    for process in psutil.process_iter(["name", "cmdline", "cwd"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] != "postgres":
            continue
        if process.info["cwd"] == str(pgdata) or str(pgdata) in cmdline:
            found.append(process)
    return found


def wait_until_gone(pgdata: Path, deadline_s: float = 15) -> list[psutil.Process]:
    deadline = time.monotonic() + deadline_s
    while (left := postgres_of(pgdata)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One SCORECARD_DATA_DIR for the module (initdb once); whatever a failing test leaves
    running there is killed at the end."""
    path = tmp_path_factory.mktemp("embedded")
    yield path
    for process in postgres_of(path / "postgres"):
        process.kill()


def serve(data_dir: Path, *args: str):  # type: ignore[no-untyped-def]
    return running_server(None, *args, env={"SCORECARD_DATA_DIR": str(data_dir)}, start_timeout=120)


@pytest.mark.parametrize(
    ("signum", "args"),
    [(signal.SIGTERM, ()), (signal.SIGINT, ()), (signal.SIGTERM, ("--workers", "2"))],
    ids=["sigterm", "sigint", "sigterm-2-workers"],
)
def test_stop_signal_stops_the_embedded_postgres(data_dir, signum, args):
    pgdata = data_dir / "postgres"
    with serve(data_dir, *args) as (base_url, process):
        assert httpx.get(f"{base_url}/readyz", timeout=10).status_code == 200
        assert postgres_of(pgdata), "the server should be using its embedded PostgreSQL"
        process.send_signal(signum)
        assert process.wait(timeout=60) in (0, -signum)
    assert wait_until_gone(pgdata) == []


def test_a_start_after_kill_9_recovers(data_dir):
    pgdata = data_dir / "postgres"
    with serve(data_dir) as (base_url, process):
        assert httpx.get(f"{base_url}/readyz", timeout=10).status_code == 200
        process.kill()
        process.wait(timeout=10)
    # The crash leaves PostgreSQL running; the next start joins it, and stops it at the end.
    assert postgres_of(pgdata)
    with serve(data_dir) as (base_url, process):
        assert httpx.get(f"{base_url}/readyz", timeout=10).status_code == 200
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert wait_until_gone(pgdata) == []


def test_a_start_after_a_crash_of_both_recovers_from_a_stale_postmaster_pid(data_dir):
    pgdata = data_dir / "postgres"
    with serve(data_dir) as (base_url, process):
        assert httpx.get(f"{base_url}/readyz", timeout=10).status_code == 200
        postgres = postgres_of(pgdata)
        for each in postgres:
            each.kill()
        process.kill()
        process.wait(timeout=10)
    _, alive = psutil.wait_procs(postgres, timeout=15)
    assert alive == []
    # As after a machine or container restart: the lock files name a pid that now belongs to
    # some other program (here: this test process).
    pid_file = pgdata / "postmaster.pid"
    lines = pid_file.read_text().split("\n")
    pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]))
    socket_lock = Path(lines[4]) / f".s.PGSQL.{lines[3]}.lock"
    socket_lock.write_text("\n".join([str(os.getpid()), *socket_lock.read_text().split("\n")[1:]]))
    with serve(data_dir) as (base_url, process):
        assert httpx.get(f"{base_url}/readyz", timeout=10).status_code == 200
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert wait_until_gone(pgdata) == []
