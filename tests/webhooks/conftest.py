"""Webhook fixtures: a real receiver on 127.0.0.1, a fast retry schedule, in-process workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import make_engine
from app.core.settings import Settings
from app.webhooks.events import emit_event
from app.webhooks.worker import Worker
from tests.webhooks.receiver import Receiver

FAST_SCHEDULE = (0.0, 0.2, 0.2)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="session")
def delivery_settings(settings: Settings) -> Settings:
    """Receivers are on 127.0.0.1, so the SSRF guard is off; retries come quickly."""
    return settings.model_copy(
        update={
            "scorecard_webhook_allow_private": True,
            "scorecard_webhook_retry_schedule": FAST_SCHEDULE,
            "scorecard_webhook_timeout": 2.0,
        }
    )


@pytest.fixture
def allow_private(app: Any, delivery_settings: Settings) -> Iterator[None]:
    """Let the API accept webhook URLs on 127.0.0.1 for this test."""
    guarded = app.state.settings
    app.state.settings = delivery_settings
    yield
    app.state.settings = guarded


@asynccontextmanager
async def running_worker(
    engine: AsyncEngine, settings: Settings, **options: Any
) -> AsyncIterator[Worker]:
    async with Worker(engine, settings, **options).running() as worker:
        yield worker


@pytest.fixture
async def worker(app: Any, clean_db: str, delivery_settings: Settings) -> AsyncIterator[Worker]:
    """A worker on the test database; stopped (gracefully) before the tables are emptied."""
    async with running_worker(app.state.engine, delivery_settings) as running:
        yield running


@pytest.fixture
async def second_engine(clean_db: str) -> AsyncIterator[AsyncEngine]:
    """An engine of its own, as a second worker process would have."""
    engine = make_engine(clean_db, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture
def emit(sessionmaker: Any) -> Callable[..., Awaitable[str]]:
    """Commit one event through emit_event, as crossing detection does; returns its id."""

    async def emit_one(
        data: dict[str, Any] | None = None,
        *,
        scorecard_id: Any = None,
        event_type: str = "measure.threshold_crossed",
    ) -> str:
        async with sessionmaker() as session:
            event_id = await emit_event(
                session, event_type, data or {"status": "red"}, scorecard_id=scorecard_id
            )
            await session.commit()
        return str(event_id)

    return emit_one


@pytest.fixture
def subscribe(
    client: Any, receiver: Receiver, allow_private: None
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Create a subscription through the API, pointing at the receiver (path optional)."""

    async def create(path: str = "/hook", **fields: Any) -> dict[str, Any]:
        response = await client.post("/v1/webhooks", json={"url": receiver.url + path, **fields})
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    return create


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def sql(engine: AsyncEngine, statement: str, **params: Any) -> Any:
    async with engine.begin() as connection:
        result = await connection.execute(text(statement), params)
        return result.all() if result.returns_rows else None


async def settled_deliveries(engine: AsyncEngine, timeout: float = 5.0) -> list[Any]:
    """Wait until no delivery is pending or delivering, then return every delivery as
    (event_id, subscription_id, status, successes), successes being its attempts that the
    receiver answered with a 2xx.

    A settled delivery (succeeded or failed) is never claimed again, and it is settled only
    after its attempt's response came back; so once this returns, nothing more is on its way
    to any receiver, and a receiver's requests can be compared with the table exactly. This
    replaces "sleep a while and see that nothing else arrived", which proved nothing when the
    machine was slow and cost time when it was fast."""

    async def settled() -> bool:
        [[unsettled]] = await sql(
            engine, "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'delivering')"
        )
        return unsettled == 0  # type: ignore[no-any-return]

    await eventually(settled, timeout)
    return await sql(  # type: ignore[no-any-return]
        engine,
        """
        SELECT d.event_id::text, d.subscription_id::text, d.status,
            (SELECT count(*) FROM delivery_attempts a
             WHERE a.delivery_id = d.id AND a.status_code BETWEEN 200 AND 299)
        FROM deliveries d ORDER BY d.id
        """,
    )
