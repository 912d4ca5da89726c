"""The ASGI application: `create_app()` wires settings, database, middleware and routers."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from app.audit.router import router as audit_router
from app.auth.dependencies import require
from app.auth.keys import Scope
from app.auth.router import router as api_keys_router
from app.background import build_worker
from app.commentary.router import router as commentary_router
from app.core.database import make_engine, make_read_pool, make_sessionmaker
from app.core.embedded import resolve_database_url
from app.core.errors import install_error_handlers
from app.core.http import operation_id
from app.core.logging import configure_logging
from app.core.middleware import RequestMiddleware
from app.core.openapi import install_openapi
from app.core.replica import open_read_router
from app.core.settings import Settings, get_settings
from app.dashboard.router import router as share_links_router
from app.dashboard.router import shared as shared_router
from app.initiatives.router import router as initiatives_router
from app.initiatives.schemas import CURRENCY_SCHEMA
from app.measures.router import reads as measure_reads
from app.measures.router import router as measures_router
from app.ops.metrics import observe_request, process_exited
from app.ops.router import router as ops_router
from app.readings.batch_router import CsvUpload
from app.readings.batch_router import router as batch_readings_router
from app.readings.ingest import ReadingBatch
from app.readings.partitions import KnownPartitions
from app.readings.router import reads as reading_reads
from app.readings.router import router as readings_router
from app.scorecards.router import reads as scorecard_reads
from app.scorecards.router import router as scorecards_router
from app.scorecards.schemas import TIME_ZONE_SCHEMA
from app.scores.cache import ScoreCache
from app.scores.data import Definitions
from app.scores.router import router as scores_router
from app.thresholds.increments import WindowCache
from app.thresholds.status import CrossingCaches
from app.webhooks.router import router as webhooks_router
from app.webhooks.service import backlog
from app.xapi.router import router as xapi_router
from app.xapi.schemas import XapiStatement

# Bodies the endpoints parse themselves (for speed, or for xAPI's own rules): named in the
# document all the same.
HAND_PARSED_BODIES = (ReadingBatch, CsvUpload, XapiStatement)
# Schemas that fields refer to by name: a long enum, written once.
NAMED_SCHEMAS = {"TimeZone": TIME_ZONE_SCHEMA, "Currency": CURRENCY_SCHEMA}

DESCRIPTION = """
Balanced Scorecards for training & development teams.

Scores are computed on read and rolled up measure → objective → perspective → scorecard.
Errors are RFC 9457 `application/problem+json`. Authenticate with `Authorization: Bearer <key>`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    run_worker: bool | None = None,
) -> FastAPI:
    """`run_worker`: also deliver webhooks in this process (default: the setting `serve` sets,
    so tests and embedders get no background worker unless they ask)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if run_worker is None:
        run_worker = settings.scorecard_worker_in_process

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The collector's youngest generation runs every 700 allocations by default: a batch
        # of 5,000 readings allocates that many times over while its body is alive, and each
        # run walks it (and, every tenth, an older generation: the app). HTTP batch ingest
        # did 0.73x the readings/s with the default (bench.ingest; peak RSS the same).
        gc.set_threshold(50_000, 20, 100)
        pool_size = settings.scorecard_db_pool_size
        pgbouncer = settings.scorecard_db_pgbouncer
        url = database_url or resolve_database_url(settings)
        engine = make_engine(url, pool_size=pool_size, pgbouncer=pgbouncer)
        app.state.settings = settings
        app.state.engine = engine
        # Every cache of the app, each an object with reset(): nothing is cached in a module.
        app.state.definitions = Definitions()  # shared by score reads and crossing detection
        app.state.crossing_caches = CrossingCaches(app.state.definitions, WindowCache())
        app.state.score_cache = ScoreCache(max_age=settings.scorecard_score_cache_seconds)
        app.state.known_partitions = KnownPartitions()  # of readings: see app.readings.partitions
        app.state.sessionmaker = make_sessionmaker(
            engine,
            info={
                **app.state.crossing_caches.session_info(),
                **app.state.known_partitions.session_info(),
            },
        )
        try:
            app.state.read_pool = await make_read_pool(
                engine, max_size=pool_size, pgbouncer=pgbouncer
            )
            async with AsyncExitStack() as background:
                background.push_async_callback(app.state.read_pool.close)
                app.state.reads = await open_read_router(
                    app.state.read_pool, engine, settings, pool_size=pool_size
                )
                background.push_async_callback(app.state.reads.close)
                if run_worker:
                    # Stopped after the last request: in-flight deliveries finish first.
                    await background.enter_async_context(
                        build_worker(engine, settings, app.state.crossing_caches).running()
                    )
                yield
        finally:
            await engine.dispose()
            process_exited(os.getpid())

    # The docs pages serve Swagger UI and ReDoc from the package itself: no CDN, so they also
    # work where the service has no way out to the internet.
    app = FastAPIOffline(
        title="Scorecard service",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    install_openapi(
        app,
        schemas=HAND_PARSED_BODIES,
        components=NAMED_SCHEMAS,
    )
    app.state.readiness_figures = {"webhooks": backlog}  # shown by /readyz
    # Routes are matched in this order, one by one: the most requested first. The hot reads
    # are the app's own routes: through `include_router`, FastAPI matches a request against
    # an included router's routes in layers of its own, which cost a small read about a tenth
    # of its instructions (measured; bench/crud.py). Their routers set the same operation ids.
    for hot_reads in (scorecard_reads, measure_reads, reading_reads):
        app.router.routes.extend(hot_reads.routes)
    for router in (
        scorecards_router,
        measures_router,
        commentary_router,
        readings_router,
        scores_router,
        initiatives_router,
        batch_readings_router,
        xapi_router,
        webhooks_router,
        api_keys_router,
        share_links_router,
        shared_router,
        ops_router,
    ):
        app.include_router(router)
    app.include_router(audit_router, dependencies=[Depends(require(Scope.admin))])
    app.add_middleware(RequestMiddleware, observe=observe_request)
    return app
