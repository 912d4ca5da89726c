"""The embedded PostgreSQL (pgserver) that makes `make run` work on a bare machine.

Lifecycle. pgserver on its own lists the pids of its users in the data directory and stops the
server from an atexit hook of the last one. A process ended by a signal never runs atexit
(uvicorn re-raises SIGTERM with the default action after its graceful shutdown), so its pid
stayed listed for ever and no later process ever saw itself as the last one: the server was
never stopped again. So pgserver here only initialises and starts the server
(cleanup_mode=None), and we keep the account of users ourselves, with locks the kernel releases
however a process ends, kill -9 included:

- every process using the server holds a shared flock on `.<name>.users`, beside the data
  directory, for as long as it uses it;
- starting and stopping happen under an exclusive flock on `.<name>.lock`, so a process starting
  never races one stopping;
- a process leaving drops its shared lock and tries for an exclusive one: if it gets it nobody
  else uses the server, and it stops it.

A start also repairs what a crash leaves: a running server is simply joined (and stopped by the
last user after that), and a postmaster.pid naming a process that is not this data directory's
postmaster (its pid dead, or reused by another program) is removed so the server can start.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from app.core.settings import Settings, normalise_database_url

log = logging.getLogger(__name__)
# pgserver logs every command line it runs at INFO: noise in the service's log.
logging.getLogger("pgserver").setLevel(logging.WARNING)


@dataclass
class _Embedded:
    server: Any  # pgserver.PostgresServer
    users: IO[bytes]  # holds our shared flock while we use the server
    delete: bool


_servers: dict[Path, _Embedded] = {}


def _import_pgserver() -> Any:
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR in containers
        warnings.simplefilter("ignore")
        try:
            import pgserver  # imported lazily: only needed without DATABASE_URL
        except ImportError:
            raise RuntimeError(
                "DATABASE_URL is unset and the embedded PostgreSQL is not installed "
                "(pip install 'scorecard[embedded]')"
            ) from None
    return pgserver


def _sibling(data_dir: Path, suffix: str) -> Path:
    # Beside the data directory, not in it: initdb wants an empty directory.
    return data_dir.parent / f".{data_dir.name}.{suffix}"


@contextmanager
def _lifecycle_lock(data_dir: Path) -> Iterator[None]:
    with open(_sibling(data_dir, "lock"), "ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        first_line = (data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        return int(first_line)
    except (OSError, ValueError):
        return None


def _processes_in(data_dir: Path) -> list[Any]:
    """PostgreSQL processes working in `data_dir`: postgres chdirs there, postmaster and
    backends alike."""
    import psutil

    found = []
    for process in psutil.process_iter(["name", "cwd"]):
        if process.info["name"] == "postgres" and process.info["cwd"] == str(data_dir):
            found.append(process)
    return found


def _live_postmaster(data_dir: Path) -> Any | None:
    import psutil

    pid = _postmaster_pid(data_dir)
    if pid is None:
        return None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE or process.name() != "postgres":
            return None
    except psutil.Error:
        return None
    try:
        # Another data directory's postmaster may have got the pid; run as another user
        # (pgserver's when we are root) its directory may be unreadable: trust the name then.
        return process if process.cwd() == str(data_dir) else None
    except psutil.AccessDenied:
        return process
    except psutil.Error:
        return None


def _remove_stale_lock_files(data_dir: Path) -> None:
    """After a crash postmaster.pid (and the socket's lock file) may name a dead pid, or one the
    system has since given to another program (a container restart): pgserver would take the
    server for running, and PostgreSQL refuses to start while a lock file's pid is alive. Once
    no process of the old server is left (orphaned backends end on their own shortly), remove
    them."""
    import psutil

    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists() or _live_postmaster(data_dir) is not None:
        return
    leftovers = _processes_in(data_dir)
    for process in leftovers:
        with suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(leftovers, timeout=5)
    for process in alive:
        with suppress(psutil.Error):
            process.kill()
    stale = [pid_file]
    with suppress(OSError, IndexError):
        # postmaster.pid: pid, data dir, start time, port, socket directory, ...
        lines = pid_file.read_text().split("\n")
        if lines[4].strip():
            stale.append(Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}.lock")
    for path in stale:
        log.warning("removing stale %s", path)
        path.unlink(missing_ok=True)


def _forget_dead_pgserver_users(server: Any) -> None:
    """pgserver still lists every process that got a handle (we leave it nothing to do at exit);
    keep its list to the living, so it does not grow with every crash."""
    import psutil

    registry = server.global_process_id_list
    registry.put([pid for pid in registry.get() if pid != os.getpid() and psutil.pid_exists(pid)])


def start_embedded(data_dir: Path, *, cleanup_mode: str | None = "stop") -> str:
    """Start (or join) the embedded server in `data_dir` and return an asyncpg URL for it.
    cleanup_mode "stop": the last process using it stops it when it exits or calls
    `stop_embedded`; "delete": also removes `data_dir` then; None: leave it running."""
    pgserver = _import_pgserver()
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if data_dir not in _servers:
        with _lifecycle_lock(data_dir):
            _remove_stale_lock_files(data_dir)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server = pgserver.get_server(data_dir, cleanup_mode=None)
            atexit.unregister(server._cleanup)  # our own account replaces pgserver's
            _forget_dead_pgserver_users(server)
            users = open(_sibling(data_dir, "users"), "ab")  # noqa: SIM115 - held until stop
            fcntl.flock(users, fcntl.LOCK_SH)
        if cleanup_mode is None:
            users.close()
        else:
            _servers[data_dir] = _Embedded(server, users, delete=cleanup_mode == "delete")
        return normalise_database_url(server.get_uri())
    return normalise_database_url(_servers[data_dir].server.get_uri())


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise start the embedded server and export its URL so that
    child processes (uvicorn workers) use the same one."""
    if settings.database_url:
        return settings.database_url
    url = start_embedded(settings.scorecard_data_dir / "postgres")
    os.environ["DATABASE_URL"] = url
    return url


def _stop_server(data_dir: Path, server: Any) -> None:
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

    try:
        # Fast shutdown: open sessions are ended, the data is checkpointed.
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=server.system_user, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        process = _live_postmaster(data_dir)
        if process is not None:  # pg_ctl failed but the server runs: end it by signal
            log.warning("pg_ctl stop failed; terminating the embedded postmaster %s", process.pid)
            process.terminate()
            deadline = time.monotonic() + 30
            while process.is_running() and time.monotonic() < deadline:
                time.sleep(0.1)
            if process.is_running():
                process.kill()


def stop_embedded(data_dir: Path) -> None:
    """This process stops using the embedded server in `data_dir`; when no other process uses
    it, stop it (and, with cleanup_mode="delete", remove its directory). Safe to call twice."""
    data_dir = data_dir.resolve()
    embedded = _servers.pop(data_dir, None)
    if embedded is None:
        return
    with _lifecycle_lock(data_dir):
        embedded.users.close()  # drops our shared lock
        with open(_sibling(data_dir, "users"), "ab") as users:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another process still uses the server
            _stop_server(data_dir, embedded.server)
            if embedded.delete:
                shutil.rmtree(data_dir, ignore_errors=True)


def stop_all_embedded() -> None:
    """What this process started or joined, released; run at exit and by `serve` before it
    re-raises a stop signal (which skips atexit)."""
    for data_dir in list(_servers):
        try:
            stop_embedded(data_dir)
        except OSError as exc:  # e.g. its directory was removed under it
            log.warning("could not stop the embedded PostgreSQL in %s: %s", data_dir, exc)


atexit.register(stop_all_embedded)
