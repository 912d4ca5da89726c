"""Real processes: `serve` delivers in-process (unless --no-worker), and `scorecard worker`
can be killed with SIGKILL at any moment without losing a delivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from app.auth.keys import Scope
from tests.conftest import make_key
from tests.e2e.server import running_server
from tests.webhooks.conftest import eventually, sql
from tests.webhooks.receiver import Answer

pytestmark = pytest.mark.e2e

WORKER_ENV = {
    "SCORECARD_WEBHOOK_ALLOW_PRIVATE": "true",
    "SCORECARD_WEBHOOK_RETRY_SCHEDULE": "0,2",
    "LOG_FORMAT": "json",
}


@contextmanager
def worker_process(database_url: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        env={**os.environ, "DATABASE_URL": database_url, **WORKER_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


async def _status(engine, event_id: str) -> tuple[str, int]:
    [(status, attempts)] = await sql(
        engine, "SELECT status, attempts FROM deliveries WHERE event_id = :id", id=event_id
    )
    return status, attempts


async def test_killed_workers_lose_nothing(app, clean_db, receiver, subscribe, emit):
    engine = app.state.engine
    webhook = await subscribe()
    receiver.answer(500, Answer(200, delay=10))
    with worker_process(clean_db) as first:
        between_attempts = await emit({"n": 1})
        await receiver.wait_for(1, timeout=15)  # includes the process start-up

        async def retry_scheduled() -> bool:
            return await _status(engine, between_attempts) == ("pending", 1)

        await eventually(retry_scheduled)
        mid_request = await emit({"n": 2})
        await receiver.wait_for(2)
        first.send_signal(signal.SIGKILL)
    assert await _status(engine, mid_request) == ("delivering", 1)
    # Fast-forward the dead worker's lease (timeout + 30 s) instead of waiting for it.
    await sql(
        engine,
        "UPDATE deliveries SET lease_expires_at = now() WHERE event_id = :id",
        id=mid_request,
    )
    with worker_process(clean_db) as second:
        received = await receiver.wait_for(4, timeout=15)

        async def both_delivered() -> bool:
            return {await _status(engine, e) for e in (between_attempts, mid_request)} == {
                ("succeeded", 2)
            }

        await eventually(both_delivered)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=15) == 0
        log = second.stdout.read()  # type: ignore[union-attr]
    # At-least-once, with the message id receivers deduplicate on.
    assert sorted(r.webhook_id for r in received) == sorted(
        [between_attempts, between_attempts, mid_request, mid_request]
    )
    assert "webhook worker stopped" in log
    assert webhook["secret"] not in log
    assert "webhook-signature" not in log


async def _listeners(engine) -> int:
    """Connections LISTENing for deliveries: one per running worker (its application_name)."""
    [[count]] = await sql(
        engine,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = 'scorecard-worker-listen' AND datname = current_database()",
    )
    return count  # type: ignore[no-any-return]


async def test_serve_delivers_in_process_unless_told_not_to(app, clean_db, sessionmaker, receiver):
    headers = {"Authorization": f"Bearer {await make_key(sessionmaker, Scope.admin)}"}
    env = {"SCORECARD_WEBHOOK_ALLOW_PRIVATE": "true"}
    with running_server(clean_db, "--no-worker", env=env) as (base_url, _):
        async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
            webhook = (await http.post("/v1/webhooks", json={"url": receiver.url})).json()
            await http.post(f"/v1/webhooks/{webhook['id']}/test")
            # No process holds a worker's LISTEN connection (cf. the server below, which does)...
            assert await _listeners(app.state.engine) == 0
    # ...and with the server stopped, its delivery is still untouched: nothing tried to send it.
    [(status, attempts)] = await sql(app.state.engine, "SELECT status, attempts FROM deliveries")
    assert (status, attempts) == ("pending", 0)
    assert receiver.requests == []
    with running_server(clean_db, env=env) as (base_url, _):
        # The worker of this server picks up what the other left, and sends new messages.
        async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:

            async def listening() -> bool:
                return await _listeners(app.state.engine) == 1

            await eventually(listening, timeout=10)
            await http.post(f"/v1/webhooks/{webhook['id']}/test")
            received = await receiver.wait_for(2, timeout=10)
            deliveries = (await http.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()
    assert {r.webhook_id for r in received} == {d["event_id"] for d in deliveries["items"]}
