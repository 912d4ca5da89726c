"""Cross-cutting HTTP behaviour: body limits, request ids, never a traceback."""

from __future__ import annotations

import uuid

import httpx
from asyncpg.exceptions import DeadlockDetectedError
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from app.core.errors import install_error_handlers
from app.core.middleware import MAX_BODY_BYTES, RequestMiddleware


async def test_body_over_10_mib_is_413(client):
    body = b'{"name": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    response = await client.post(
        "/v1/scorecards", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413


async def test_streamed_body_over_limit_is_413(client):
    async def chunks():
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    response = await client.post(
        "/v1/scorecards", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_request_id_is_echoed_or_generated(client):
    echoed = await client.get("/healthz", headers={"X-Request-ID": "lms-sync-42"})
    assert echoed.headers["x-request-id"] == "lms-sync-42"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    # Ids that could forge log lines are replaced, not echoed.
    hostile = await client.get("/healthz", headers={"X-Request-ID": 'x" level=error ' * 20})
    assert len(hostile.headers["x-request-id"]) == 32


async def test_wrong_method_is_405_problem(client):
    response = await client.put("/v1/scorecards")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    # Allow names the methods of every route of the path, whichever router holds them.
    assert response.headers["allow"] == "GET, POST"
    one = await client.request("OPTIONS", f"/v1/scorecards/{uuid.uuid4()}")
    assert one.headers["allow"] == "DELETE, GET, PATCH"


async def test_unexpected_error_is_a_500_problem_without_internals(client, app):
    @app.get("/boom-for-test")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    try:
        response = await client.get("/boom-for-test")
    finally:
        app.router.routes.pop()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text


async def test_a_transaction_postgresql_aborted_to_break_a_deadlock_is_a_503_to_retry():
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestMiddleware)

    @app.get("/raw")
    async def raw() -> None:
        raise DeadlockDetectedError("deadlock detected")

    @app.get("/wrapped")
    async def wrapped() -> None:
        try:
            raise DeadlockDetectedError("deadlock detected")
        except DeadlockDetectedError as exc:
            raise DBAPIError("UPDATE measures ...", None, exc) from exc

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/raw", "/wrapped"):
            response = await client.get(path)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert response.headers["content-type"] == "application/problem+json"
            assert "retry" in response.json()["detail"]
