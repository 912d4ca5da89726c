"""Managing webhook subscriptions: secrets shown once, concurrency control, validation."""

from __future__ import annotations

import base64

import pytest

from app.auth.keys import Scope
from tests.factories import create_scorecard

pytestmark = pytest.mark.usefixtures("allow_private")


async def test_secret_is_shown_on_create_and_never_again(client, receiver):
    created = await client.post(
        "/v1/webhooks", json={"url": receiver.url + "/hook", "description": "LMS sync"}
    )
    assert created.status_code == 201
    body = created.json()
    assert created.headers["location"] == f"/v1/webhooks/{body['id']}"
    assert created.headers["etag"] == '"1"'
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    assert body | {"secret": None} == body | {
        "url": receiver.url + "/hook",
        "event_types": None,
        "scorecard_id": None,
        "description": "LMS sync",
        "active": True,
        "disabled_reason": None,
        "version": 1,
        "secret": None,
    }
    fetched = await client.get(f"/v1/webhooks/{body['id']}")
    assert fetched.status_code == 200
    assert "secret" not in fetched.json()
    listed = (await client.get("/v1/webhooks")).json()
    assert [w["id"] for w in listed["items"]] == [body["id"]]
    assert "secret" not in listed["items"][0]
    assert body["secret"] not in fetched.text + str(listed)


async def test_rotation_returns_a_new_secret(client, subscribe):
    webhook = await subscribe()
    rotated = await client.post(f"/v1/webhooks/{webhook['id']}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != webhook["secret"]
    assert rotated.json()["version"] == 2
    assert rotated.headers["etag"] == '"2"'


async def test_patch_and_delete_honour_if_match(client, subscribe):
    webhook = await subscribe()
    url = f"/v1/webhooks/{webhook['id']}"
    patched = await client.patch(
        url, json={"event_types": ["webhook.test"], "active": False}, headers={"If-Match": '"1"'}
    )
    assert patched.status_code == 200
    assert patched.json() | {"updated_at": None} == (await client.get(url)).json() | {
        "updated_at": None
    }
    assert patched.json()["event_types"] == ["webhook.test"]
    assert patched.json()["active"] is False
    assert patched.json()["version"] == 2
    assert patched.json()["disabled_reason"] is None  # disabled by a person, not the system
    stale = await client.patch(url, json={"description": "x"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert (await client.delete(url, headers={"If-Match": '"1"'})).status_code == 412
    assert (await client.patch(url, json={"url": None})).status_code == 422
    assert (await client.delete(url, headers={"If-Match": '"2"'})).status_code == 204
    assert (await client.get(url)).status_code == 404


async def test_scorecard_filter_must_name_an_existing_scorecard(client, receiver):
    scorecard = await create_scorecard(client)
    ok = await client.post(
        "/v1/webhooks", json={"url": receiver.url, "scorecard_id": scorecard["id"]}
    )
    assert ok.status_code == 201
    assert ok.json()["scorecard_id"] == scorecard["id"]
    missing = await client.post(
        "/v1/webhooks",
        json={"url": receiver.url, "scorecard_id": "01890a5d-ac96-774b-bcce-b302099a8057"},
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["body", "scorecard_id"]


INVALID = [
    ({"url": "ftp://127.0.0.1/hook"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "http://user:pw@127.0.0.1/hook"}, "url"),
    ({"url": "http://127.0.0.1/" + "x" * 2000}, "url"),
    ({"url": "http://127.0.0.1/", "event_types": ["measure.deleted"]}, "event_types"),
    ({"url": "http://127.0.0.1/", "event_types": []}, "event_types"),
    ({"url": "http://127.0.0.1/", "secret": "mine"}, "secret"),
    ({"url": "http://127.0.0.1/", "active": "maybe"}, "active"),
]


async def test_invalid_subscriptions_are_422(client):
    for body, field in INVALID:
        response = await client.post("/v1/webhooks", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["loc"][:2] == ["body", field]


async def test_reading_needs_read_scope_and_changing_needs_admin(scoped_client, subscribe):
    webhook = await subscribe()
    reader = await scoped_client(Scope.read)
    writer = await scoped_client(Scope.write)
    assert (await reader.get("/v1/webhooks")).status_code == 200
    assert (await reader.get(f"/v1/webhooks/{webhook['id']}/deliveries")).status_code == 200
    assert (await reader.get("/v1/events")).status_code == 200
    for attempt in (
        writer.post("/v1/webhooks", json={"url": "http://127.0.0.1/"}),
        reader.post(f"/v1/webhooks/{webhook['id']}/rotate-secret"),
        writer.post(f"/v1/webhooks/{webhook['id']}/test"),
        writer.patch(f"/v1/webhooks/{webhook['id']}", json={"active": False}),
        writer.delete(f"/v1/webhooks/{webhook['id']}"),
    ):
        assert (await attempt).status_code == 403


async def test_unknown_ids_are_404(client):
    missing = "01890a5d-ac96-774b-bcce-b302099a8057"
    for response in (
        await client.get(f"/v1/webhooks/{missing}"),
        await client.post(f"/v1/webhooks/{missing}/test"),
        await client.post(f"/v1/webhooks/{missing}/rotate-secret"),
        await client.get(f"/v1/webhooks/{missing}/deliveries"),
        await client.get(f"/v1/deliveries/{missing}"),
        await client.post(f"/v1/deliveries/{missing}/retry"),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
