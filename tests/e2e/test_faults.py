"""Faults a real `scorecard serve` process meets: an error on a keep-alive connection, and the
database going away under a writing client and coming back."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from pgserver._commands import pg_ctl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.embedded import start_embedded, stop_embedded
from app.core.migrate import upgrade
from tests.e2e.server import cli_key, running_server

MEASURE = {
    "key": "completions",
    "name": "Completions",
    "perspective": "customer",
    "direction": "increase",
    "baseline": 0,
    "target": 100,
    "aggregation": "count",
}


def exchange(connection: socket.socket, request: bytes) -> tuple[int, dict[str, str]]:
    """Send one request on an open connection and read its whole response (Content-Length)."""
    connection.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection instead of answering"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection in the middle of a response"
        body += chunk
    return int(status_line.split()[1]), headers


def test_the_connection_stays_usable_after_every_kind_of_error(clean_db):
    database_url = clean_db
    with running_server(database_url) as (base_url, _):
        key = cli_key(database_url)
        auth = f"Authorization: Bearer {key}\r\n"
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as http:
            scorecard = http.post("/v1/scorecards", json={"name": "Broken"}).json()["id"]
        # A stored row the service cannot evaluate: its scores answer 500 (see
        # tests/scores/test_sweep_isolation.py); the point here is what follows the 500.
        asyncio.run(
            _execute(
                database_url,
                f"UPDATE scorecards SET timezone = 'Not/AZone' WHERE id = '{scorecard}'",
            )
        )

        port = int(base_url.rsplit(":", 1)[1])
        host = f"Host: 127.0.0.1:{port}\r\n"
        bad_json = b'{"name": '
        errors = {
            500: f"GET /v1/scorecards/{scorecard}/score HTTP/1.1\r\n{host}{auth}\r\n".encode(),
            404: f"GET /v1/scorecards/{uuid.uuid4()} HTTP/1.1\r\n{host}{auth}\r\n".encode(),
            401: f"GET /v1/scorecards HTTP/1.1\r\n{host}\r\n".encode(),
            405: f"PUT /v1/scorecards HTTP/1.1\r\n{host}{auth}Content-Length: 0\r\n\r\n".encode(),
            415: (
                f"POST /v1/scorecards HTTP/1.1\r\n{host}{auth}Content-Type: text/csv\r\n"
                f"Content-Length: 3\r\n\r\na,b"
            ).encode(),
            422: (
                f"POST /v1/scorecards HTTP/1.1\r\n{host}{auth}Content-Type: application/json\r\n"
                f"Content-Length: {len(bad_json)}\r\n\r\n"
            ).encode()
            + bad_json,
        }
        healthy = f"GET /v1/scorecards HTTP/1.1\r\n{host}{auth}\r\n".encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            for status, request in errors.items():
                answered, headers = exchange(connection, request)
                assert answered == status
                assert headers["content-type"] == "application/problem+json"
                assert headers.get("connection") != "close"
                # The same connection takes the next request.
                assert exchange(connection, healthy)[0] == 200


async def _execute(database_url: str, *statements: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def own_database():
    """An embedded PostgreSQL of this test's own, which it may stop and start."""
    with tempfile.TemporaryDirectory(prefix="scorecard-outage-") as directory:
        data_dir = Path(directory)
        url = start_embedded(data_dir, cleanup_mode="delete")
        upgrade(url)
        yield url, data_dir
        stop_embedded(data_dir)


def _postgres(action: str, data_dir: Path) -> None:
    """pg_ctl as the embedded server's owner; `start` with the options pgserver starts it with."""
    import pgserver

    server = pgserver.get_server(data_dir, cleanup_mode=None)
    if action == "stop":
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=server.system_user)
    else:
        server.ensure_postgres_running()


def test_a_database_outage_is_503_with_retry_after_and_no_acknowledged_write_is_lost(own_database):
    database_url, data_dir = own_database
    with running_server(database_url, "--no-worker") as (base_url, _):
        key = cli_key(database_url)
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=15
        ) as http:
            scorecard = http.post("/v1/scorecards", json={"name": "Outage"}).json()["id"]
            measure = http.post(f"/v1/scorecards/{scorecard}/measures", json=MEASURE).json()["id"]
            acknowledged: list[str] = []
            statuses: Counter[int] = Counter()
            phase = "before"

            def write() -> int:
                external_id = f"w-{len(acknowledged)}-{uuid.uuid4().hex[:8]}"
                response = http.post(
                    f"/v1/measures/{measure}/readings",
                    json={
                        "value": 1,
                        "observed_at": "2026-03-01T09:00:00Z",
                        "external_id": external_id,
                    },
                )
                statuses[response.status_code] += 1
                if response.status_code == 201:
                    acknowledged.append(external_id)
                elif response.status_code == 503:
                    assert response.headers["content-type"] == "application/problem+json"
                    assert int(response.headers["retry-after"]) > 0
                else:
                    pytest.fail(f"{phase}: {response.status_code} {response.text}")
                return response.status_code

            for _ in range(20):
                assert write() == 201
            phase = "down"
            _postgres("stop", data_dir)
            try:
                outage = [write() for _ in range(20)]
                assert outage.count(503) == len(outage)  # nothing can be written
                score = http.get(f"/v1/scorecards/{scorecard}/score")
                assert score.status_code == 503 and "retry-after" in score.headers
                assert http.get("/readyz").status_code == 503
            finally:
                _postgres("start", data_dir)
            phase = "after"
            deadline = time.monotonic() + 30
            while write() != 201:  # the pools reconnect by themselves, no restart
                assert time.monotonic() < deadline, "the service did not recover"
            for _ in range(20):
                assert write() == 201

            stored: set[str] = set()
            cursor = None
            while True:
                page = http.get(
                    f"/v1/measures/{measure}/readings", params={"limit": 200, "cursor": cursor}
                ).json()
                stored |= {r["external_id"] for r in page["items"]}
                if not (cursor := page["next_cursor"]):
                    break
            assert set(acknowledged) <= stored  # every 201 is there
            assert statuses[500] == 0
