"""Share links: a scorecard's dashboard and badges for whoever holds the link, without an API
key, until the link is revoked."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from app.auth.keys import Scope
from tests.factories import create_measure, create_scorecard


@pytest.fixture
async def public(app, clean_db):
    """What a person with the link has: no API key at all (beside `client`, which has one)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def _share(client, scorecard_id: str) -> dict:
    response = await client.post(f"/v1/scorecards/{scorecard_id}/share-links")
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_link_opens_the_dashboard_until_it_is_revoked(client, public):
    scorecard = await create_scorecard(client, name="Academy 2026")
    created = await client.post(f"/v1/scorecards/{scorecard['id']}/share-links")
    assert created.status_code == 201, created.text
    link = created.json()
    assert created.headers["location"] == f"/v1/share-links/{link['id']}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", link["token"])
    assert link["url"] == f"/s/{link['token']}"

    page = await public.get(link["url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Academy 2026" in page.text

    listed = (await client.get(f"/v1/scorecards/{scorecard['id']}/share-links")).json()
    assert [item["id"] for item in listed["items"]] == [link["id"]]
    assert link["token"] not in str(listed) and "token" not in listed["items"][0]

    assert (await client.delete(f"/v1/share-links/{link['id']}")).status_code == 204
    gone = await public.get(link["url"])
    assert gone.status_code == 404 and "Academy 2026" not in gone.text
    assert (await public.get(link["url"] + "/badge.svg")).status_code == 404
    assert (await client.delete(f"/v1/share-links/{link['id']}")).status_code == 404
    assert (await client.get(f"/v1/scorecards/{scorecard['id']}/share-links")).json()["items"] == []


async def test_the_token_is_stored_only_as_its_hash(client, app):
    scorecard = await create_scorecard(client)
    link = await _share(client, scorecard["id"])
    async with app.state.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM share_links"))).mappings().all()
        audit = (
            await connection.execute(text("SELECT action, changes::text FROM audit_log"))
        ).all()
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(link["token"].encode()).hexdigest()
    assert link["token"] not in str(dict(rows[0]))
    assert ("share_link.created", f'{{"scorecard_id": [null, "{scorecard["id"]}"]}}') in [
        tuple(row) for row in audit
    ]
    assert all(
        link["token"] not in (c or "") and rows[0]["token_hash"] not in (c or "") for _, c in audit
    )


async def test_each_link_has_its_own_token_and_revoking_one_leaves_the_other(client, public):
    scorecard = await create_scorecard(client, name="Academy")
    first, second = await _share(client, scorecard["id"]), await _share(client, scorecard["id"])
    assert first["token"] != second["token"]
    await client.delete(f"/v1/share-links/{first['id']}")
    assert (await public.get(first["url"])).status_code == 404
    assert (await public.get(second["url"])).status_code == 200


async def test_deleting_the_scorecard_deletes_its_links(client, app):
    scorecard = await create_scorecard(client)
    link = await _share(client, scorecard["id"])
    assert (await client.delete(f"/v1/scorecards/{scorecard['id']}")).status_code == 204
    assert (await client.get(link["url"])).status_code == 404
    async with app.state.engine.connect() as connection:
        assert (await connection.scalar(text("SELECT count(*) FROM share_links"))) == 0
    assert (await client.delete(f"/v1/share-links/{link['id']}")).status_code == 404


async def test_share_links_need_the_write_scope_and_a_real_scorecard(client, scoped_client):
    scorecard = await create_scorecard(client)
    reader = await scoped_client(Scope.read)
    path = f"/v1/scorecards/{scorecard['id']}/share-links"
    assert (await reader.post(path)).status_code == 403
    assert (await reader.get(path)).status_code == 200
    link = await _share(client, scorecard["id"])
    assert (await reader.delete(f"/v1/share-links/{link['id']}")).status_code == 403
    writer = await scoped_client(Scope.write)
    assert (await writer.post(path)).status_code == 201
    missing = "/v1/scorecards/01900000-0000-7000-8000-000000000000/share-links"
    assert (await client.post(missing)).status_code == 404
    assert (await client.get(missing)).status_code == 404
    assert (await client.post("/v1/scorecards/not-a-uuid/share-links")).status_code == 422
    assert (await client.delete("/v1/share-links/not-a-uuid")).status_code == 422
    del client.headers["Authorization"]
    assert (await client.post(path)).status_code == 401


async def test_the_list_pages(client):
    scorecard = await create_scorecard(client)
    ids = {(await _share(client, scorecard["id"]))["id"] for _ in range(3)}
    path = f"/v1/scorecards/{scorecard['id']}/share-links"
    first = (await client.get(path, params={"limit": 2})).json()
    second = (await client.get(path, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert len(first["items"]) == 2 and second["next_cursor"] is None
    assert {i["id"] for i in first["items"] + second["items"]} == ids
    assert (await client.get(path, params={"cursor": "!!"})).status_code == 422
    assert (await client.get(path, params={"limit": 0})).status_code == 422


async def test_hostile_tokens_are_not_found(client, public):
    scorecard = await create_scorecard(client, name="Academy")
    link = await _share(client, scorecard["id"])
    await create_measure(client, scorecard["id"], key="completion")
    token = link["token"]
    hostile = [
        "x" * 5000,
        token + "x",
        token[:-1],
        token.upper() if token.upper() != token else token.lower(),
        "ä" * 43,
        "%00" + token[3:],
        "..%2F..%2Fv1%2Fscorecards",
        "..%2f" + token,
        "%2e%2e",
        "' OR 1=1 --",
        hashlib.sha256(token.encode()).hexdigest(),  # the stored hash is no token
    ]
    for bad in hostile:
        for suffix in ("", "/badge.svg", "/measures/completion/badge.svg"):
            response = await public.get(f"/s/{bad}{suffix}")
            assert response.status_code == 404, (bad, suffix, response.status_code)
    assert (await public.get(f"/s/{token}/measures/nope/badge.svg")).status_code == 404
    assert (await public.get(f"/s/{token}/measures/{'k' * 5000}/badge.svg")).status_code == 404
    assert (await public.get(f"/s/{token}/measures/completion/badge.svg")).status_code == 200


async def test_a_revoked_link_fails_at_once_even_right_after_a_cached_score(client, public):
    scorecard = await create_scorecard(client, name="Academy")
    measure = await create_measure(client, scorecard["id"], key="completion")
    now = datetime.now(UTC).isoformat()
    await client.post(
        f"/v1/measures/{measure['id']}/readings", json={"value": 50, "observed_at": now}
    )
    link = await _share(client, scorecard["id"])
    assert (await public.get(link["url"] + "/badge.svg")).status_code == 200
    await client.delete(f"/v1/share-links/{link['id']}")
    assert (await public.get(link["url"] + "/badge.svg")).status_code == 404
