"""`GET /v1/events`: the event log for consumers that poll instead of receiving webhooks."""

from __future__ import annotations

from datetime import datetime


async def _all_pages(client, url: str) -> list[dict]:
    items, cursor = [], None
    while True:
        page = (await client.get(url + (f"&cursor={cursor}" if cursor else ""))).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_event_log_pages_in_order_and_filters(client, emit):
    ids = [await emit({"n": n}) for n in range(5)]
    test_id = await emit({"ping": True}, event_type="webhook.test")
    first = (await client.get("/v1/events?limit=2")).json()
    assert [e["id"] for e in first["items"]] == ids[:2]
    assert first["items"][0] == {
        "type": "measure.threshold_crossed",
        "id": ids[0],
        "timestamp": first["items"][0]["timestamp"],
        "data": {"n": 0},
    }
    assert [e["id"] for e in await _all_pages(client, "/v1/events?limit=2")] == [*ids, test_id]
    crossings = await _all_pages(client, "/v1/events?type=measure.threshold_crossed&limit=2")
    assert [e["id"] for e in crossings] == ids
    after_id = await _all_pages(client, f"/v1/events?after={ids[1]}&limit=2")
    assert [e["id"] for e in after_id] == [*ids[2:], test_id]
    third = next(e for e in first["items"] + after_id if e["id"] == ids[2])
    after_time = (await client.get("/v1/events", params={"after": third["timestamp"]})).json()
    assert [e["id"] for e in after_time["items"]] == [*ids[3:], test_id]
    assert datetime.fromisoformat(third["timestamp"]).tzinfo is not None


async def test_bad_event_queries_are_422(client):
    for query in (
        "after=yesterday",
        "after=2026-11-01T10:00:00",
        "type=measure.deleted",
        "limit=0",
        "cursor=%%%",
    ):
        response = await client.get(f"/v1/events?{query}")
        assert response.status_code == 422, query
        assert response.headers["content-type"] == "application/problem+json"
