"""`scorecard` command line (also `python -m app`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from app.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

cli = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Balanced Scorecards for training & development teams.",
)
api_keys_cli = typer.Typer(no_args_is_help=True, help="Manage API keys.")
cli.add_typer(api_keys_cli, name="api-keys")
rollups_cli = typer.Typer(
    no_args_is_help=True, help="Reading rollups: per measure and UTC day, the sums of readings."
)
cli.add_typer(rollups_cli, name="rollups")


def fail(message: str) -> NoReturn:
    """Configuration and connection problems end with one clear line, never a traceback
    (nor a secret: database errors can quote values)."""
    from app.core.logging import redact

    typer.echo(f"scorecard: error: {redact(message)}", err=True)
    raise typer.Exit(2)


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        fail(f"bad configuration: {problems}")


def database_url(settings: Settings) -> str:
    from app.core.embedded import resolve_database_url

    try:
        return resolve_database_url(settings)
    except Exception as exc:  # pgserver raises several unrelated types
        fail(f"could not start the embedded PostgreSQL in {settings.scorecard_data_dir}: {exc}")


def guarded(what: str, action: Callable[[], T]) -> T:
    """Run a database action; turn connection failures into one line."""
    try:
        return action()
    except (OSError, TimeoutError) as exc:
        fail(f"{what}: cannot reach the database ({exc.__class__.__name__}: {exc})")
    except Exception as exc:
        if type(exc).__module__.startswith(("asyncpg", "sqlalchemy")):
            fail(f"{what}: database error ({exc.__class__.__name__}: {exc})".splitlines()[0])
        raise


def direct_database_url(settings: Settings) -> str:
    """Where migrations run: PostgreSQL itself, not a transaction-mode pooler (their advisory
    lock is held by a session). SCORECARD_DIRECT_DATABASE_URL, else DATABASE_URL."""
    return settings.scorecard_direct_database_url or database_url(settings)


def migrate_database(url: str) -> None:
    from app.core.migrate import upgrade

    guarded("migration failed", lambda: upgrade(url))


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the latest revision (alembic upgrade head)."""
    settings = load_settings()
    migrate_database(direct_database_url(settings))
    typer.echo("database schema is at head", err=True)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT", help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    no_migrate: Annotated[bool, typer.Option("--no-migrate", help="Skip migrations.")] = False,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker", help="Do not deliver webhooks in this process (run `scorecard worker`)."
        ),
    ] = False,
) -> None:
    """Migrate (under an advisory lock) and serve the API, delivering webhooks in-process."""
    _with_system_malloc()
    import uvicorn

    from app.core.embedded import stop_all_embedded
    from app.core.protocol import protocol_class

    # Through the environment, so that every uvicorn worker process's app sees it.
    os.environ["SCORECARD_WORKER_IN_PROCESS"] = "false" if no_worker else "true"
    get_settings.cache_clear()
    settings = load_settings()
    metrics_dir = _shared_metrics_dir(workers)
    _stop_on_signals()
    try:
        database_url(settings)  # the embedded PostgreSQL (if any) starts here, once
        if not no_migrate:
            migrate_database(direct_database_url(settings))
        if not guarded("start-up check failed", lambda: asyncio.run(_has_api_keys(settings))):
            typer.echo(
                "No API keys yet. Create the first one with:\n"
                "  .venv/bin/scorecard api-keys create --name admin --scope admin",
                err=True,
            )
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            proxy_headers=True,
            access_log=False,  # ours is RequestMiddleware's line
            timeout_graceful_shutdown=30,
            # Header deadline and connection cap (instead of limit_concurrency): see there.
            http=protocol_class(),
            timeout_keep_alive=settings.scorecard_keep_alive_timeout,
        )
    except _Stopped as stopped:
        # The embedded PostgreSQL goes with us; then die of the signal, as uvicorn would have
        # (the exit status tells a supervisor why we stopped).
        stop_all_embedded()
        _remove(metrics_dir)
        signal.signal(stopped.signum, signal.SIG_DFL)
        signal.raise_signal(stopped.signum)
    finally:
        stop_all_embedded()
        _remove(metrics_dir)


def _shared_metrics_dir(workers: int) -> str | None:
    """With several workers, a fresh private directory where each keeps its metrics, so that
    /metrics (whichever worker answers) sums them all (app/ops/metrics.py); set in the
    environment the workers inherit. One worker keeps them in memory: no file writes on the
    request path."""
    # Not imported from app.ops.metrics: prometheus-client reads the variable on import.
    variable = "PROMETHEUS_MULTIPROC_DIR"
    if workers == 1:
        os.environ.pop(variable, None)
        return None
    _remove_orphaned_metrics_dirs()
    # New and empty, so nothing stale is summed; named after us, so that it can be told
    # orphaned if we are killed before removing it.
    path = tempfile.mkdtemp(prefix=f"{_METRICS_DIR_PREFIX}{os.getpid()}-")
    os.environ[variable] = path
    return path


_METRICS_DIR_PREFIX = "scorecard-metrics-"


def _remove_orphaned_metrics_dirs() -> None:
    """The metrics directories of `serve` processes that died without removing them (SIGKILL)."""
    for path in Path(tempfile.gettempdir()).glob(f"{_METRICS_DIR_PREFIX}*-*"):
        pid = path.name.removeprefix(_METRICS_DIR_PREFIX).split("-")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # alive, or another user's: not ours to remove
            continue


def _remove(path: str | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def _with_system_malloc() -> None:
    """Serve with PYTHONMALLOC=malloc unless it was set: re-executes this command once with it.

    CPython's own allocator keeps a 1 MiB arena for as long as one object in it lives, and a
    large request (a 10 MiB xAPI array is ~60,000 statements) spreads its short-lived objects
    over hundreds of arenas among a few that outlive it: the server kept +70 MB after five
    such bodies. With the C allocator, freed memory goes back (the large-body gate trims the
    heap): +29 MB, measured with bench/memory.py (docs/operations.md). Worker processes
    inherit the variable."""
    if "PYTHONMALLOC" in os.environ:
        return
    os.environ["PYTHONMALLOC"] = "malloc"
    os.execv(sys.executable, [sys.executable, "-m", "app", *sys.argv[1:]])  # noqa: S606 (ourselves)


class _Stopped(BaseException):  # not Exception: nothing on the way may swallow it
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop_on_signals() -> None:
    """SIGTERM/SIGINT unwind `serve` as an exception. While uvicorn serves, its own handlers
    take over (graceful shutdown); afterwards it restores these and re-raises the signal, which
    then lands here instead of killing the process with the default action — which would skip
    every cleanup, the embedded PostgreSQL's included. With --workers N, uvicorn's supervisor
    returns normally after its workers exit."""

    def stop(signum: int, frame: object) -> None:
        raise _Stopped(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)


@cli.command()
def worker() -> None:
    """Deliver webhooks (and run the periodic jobs) until SIGTERM/SIGINT; any number of these
    can run beside `serve`. Does not migrate: run `scorecard migrate` or `serve` first."""
    from app.core.logging import configure_logging

    settings = load_settings()
    database_url(settings)  # the embedded PostgreSQL started (if any) before logging is set up
    configure_logging(settings.log_level, settings.log_format)
    guarded("worker failed", lambda: asyncio.run(_run_worker(settings)))


@cli.command()
def demo(
    base_url: Annotated[str, typer.Option(help="Where the API is served.")] = (
        "http://127.0.0.1:8000"
    ),
) -> None:
    """Load a realistic T&D scorecard with a year of readings (idempotent)."""
    settings = load_settings()
    migrate_database(direct_database_url(settings))
    scorecard_id, created = guarded(
        "could not load the demo", lambda: asyncio.run(_load_demo(settings))
    )
    typer.echo(
        f"{'Loaded' if created else 'Already loaded:'} demo scorecard {scorecard_id}", err=True
    )
    typer.echo(f"{base_url}/v1/scorecards/{scorecard_id}/score")


@api_keys_cli.command("create")
def create_api_key(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    scope: Annotated[str, typer.Option(help="admin | write | ingest | read")],
) -> None:
    """Create an API key and print it (only the key) on stdout."""
    from app.auth.keys import Scope

    try:
        parsed = Scope(scope)
    except ValueError:
        fail(f"unknown scope {scope!r}; choose one of {', '.join(s.value for s in Scope)}")
    if not name.strip() or len(name) > 200:
        fail("--name must be 1–200 characters")
    settings = load_settings()
    key = guarded(
        "could not create the key", lambda: asyncio.run(_create_key(settings, name, parsed))
    )
    sys.stdout.write(key + "\n")


@rollups_cli.command("rebuild")
def rollups_rebuild(
    measure: Annotated[
        uuid.UUID | None, typer.Option(help="Only this measure (its id); default: every one.")
    ] = None,
) -> None:
    """Sum up the readings into their rollups again from scratch, measure by measure, each in
    its own transaction under the lock its writers take: safe while the service runs."""
    settings = load_settings()
    rebuilt = guarded(
        "could not rebuild the rollups", lambda: asyncio.run(_rebuild_rollups(settings, measure))
    )
    if measure is not None and not rebuilt:
        fail(f"measure {measure} not found")
    typer.echo(f"rollups rebuilt for {rebuilt} measure(s)", err=True)


class _Progress:
    """`done/total` on stderr: redrawn in place on a terminal, else a line every few seconds."""

    def __init__(self, total: int, every_s: float = 2.0) -> None:
        self.total, self.every_s = total, every_s
        self.tty = sys.stderr.isatty()
        self.shown_at = 0.0

    def show(self, done: int) -> None:
        now = time.monotonic()
        if done < self.total and now - self.shown_at < (0.1 if self.tty else self.every_s):
            return
        self.shown_at = now
        line = f"rollups: {done}/{self.total} measures ({100 * done // max(self.total, 1)} %)"
        if self.tty:
            sys.stderr.write("\r" + line + ("\n" if done == self.total else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


async def _rebuild_rollups(settings: Settings, measure_id: uuid.UUID | None) -> int:
    from app.readings.rollups import measures_to_rebuild, rebuild_rollups

    engine = _engine(settings)
    try:
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            measure_ids = await measures_to_rebuild(driver, measure_id)
            progress = _Progress(len(measure_ids))
            progress.show(0)
            rebuilt = 0
            for done, one in enumerate(measure_ids, start=1):
                rebuilt += await rebuild_rollups(driver, one)  # False: deleted meanwhile
                progress.show(done)
            return rebuilt
    finally:
        await engine.dispose()


def _engine(settings: Settings, pool_size: int = 1) -> AsyncEngine:
    from app.core.database import make_engine

    return make_engine(
        database_url(settings), pool_size=pool_size, pgbouncer=settings.scorecard_db_pgbouncer
    )


async def _has_api_keys(settings: Settings) -> bool:
    from app.auth.keys import any_api_key_exists
    from app.core.database import make_sessionmaker

    engine = _engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            return await any_api_key_exists(session)
    finally:
        await engine.dispose()


async def _create_key(settings: Settings, name: str, scope: object) -> str:
    from app.auth.keys import Scope, create_api_key
    from app.core.database import make_sessionmaker

    assert isinstance(scope, Scope)
    engine = _engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            _, plaintext = await create_api_key(session, name.strip(), scope)
            await session.commit()
            return plaintext
    finally:
        await engine.dispose()


async def _load_demo(settings: Settings) -> tuple[object, bool]:
    from app.core.database import make_sessionmaker
    from app.demo import load_demo

    engine = _engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            return await load_demo(session)
    finally:
        await engine.dispose()


async def _run_worker(settings: Settings) -> None:
    from sqlalchemy import text

    from app.background import build_worker

    engine = _engine(settings, pool_size=4)
    try:
        async with engine.connect() as connection:  # fail at start, in one line, if not ready
            await connection.execute(text("SELECT 1 FROM deliveries LIMIT 0"))
        background = build_worker(engine, settings)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, background.stop)
        await background.run()
    finally:
        await engine.dispose()


def main() -> None:
    cli()
