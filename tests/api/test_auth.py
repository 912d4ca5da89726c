"""API keys and scopes (docs/api.md, Scopes)."""

from __future__ import annotations

import hashlib

from sqlalchemy import text

from app.auth.keys import Scope
from tests.factories import create_measure, create_scorecard


async def test_no_key_is_401_and_unknown_key_is_401(anon):
    response = await anon.get("/v1/scorecards")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    wrong = await anon.get("/v1/scorecards", headers={"Authorization": "Bearer sc_nope"})
    assert wrong.status_code == 401


async def test_health_and_docs_need_no_key(anon):
    assert (await anon.get("/healthz")).json() == {"status": "pass"}
    ready = await anon.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "pass"
    assert ready.json()["checks"]["schema"]["status"] == "pass"
    assert (await anon.get("/openapi.json")).status_code == 200
    assert (await anon.get("/docs")).status_code == 200


async def test_scopes_grant_least_privilege(client, scoped_client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"])
    reader = await scoped_client(Scope.read)
    ingester = await scoped_client(Scope.ingest)
    writer = await scoped_client(Scope.write)
    reading = {"value": 1, "observed_at": "2026-01-01T00:00:00Z"}

    assert (await reader.get("/v1/scorecards")).status_code == 200
    assert (await reader.post("/v1/scorecards", json={"name": "x"})).status_code == 403
    assert (await reader.get("/v1/api-keys")).status_code == 403

    assert (
        await ingester.post(f"/v1/measures/{measure['id']}/readings", json=reading)
    ).status_code == 201
    assert (await ingester.get("/v1/scorecards")).status_code == 403
    assert (await ingester.post("/v1/scorecards", json={"name": "x"})).status_code == 403

    assert (await writer.post("/v1/scorecards", json={"name": "x"})).status_code == 201
    assert (await writer.get("/v1/scorecards")).status_code == 200
    assert (
        await writer.post("/v1/api-keys", json={"name": "x", "scope": "admin"})
    ).status_code == 403
    forbidden = await writer.get("/v1/api-keys")
    assert forbidden.status_code == 403
    assert "admin" in forbidden.json()["detail"]


async def test_keys_are_shown_once_and_stored_hashed(client, app):
    created = await client.post("/v1/api-keys", json={"name": "LMS", "scope": "ingest"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert created.headers["location"] == f"/v1/api-keys/{created.json()['id']}"
    listed = (await client.get("/v1/api-keys")).json()["items"]
    assert all("key" not in k for k in listed)
    assert {"LMS"} <= {k["name"] for k in listed}
    async with app.state.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT * FROM api_keys"))).all()
    assert not any(key in str(tuple(row)) for row in stored)
    assert hashlib.sha256(key.encode()).hexdigest() in {row.key_hash for row in stored}

    revoked = await client.delete(f"/v1/api-keys/{created.json()['id']}")
    assert revoked.status_code == 204
    response = await client.get("/v1/scorecards", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401


async def test_bad_scope_is_422(client):
    response = await client.post("/v1/api-keys", json={"name": "x", "scope": "root"})
    assert response.status_code == 422
