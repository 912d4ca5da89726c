"""From a reading to a signed webhook: crossings made by concurrent writers all arrive, in one
unbroken chain that ends at the measure's current status."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from tests.factories import create_measure, create_scorecard
from tests.webhooks.conftest import settled_deliveries


async def test_every_crossing_of_concurrent_writers_is_delivered(
    client, app, receiver, subscribe, worker
):
    scorecard = await create_scorecard(client)
    webhook = await subscribe(scorecard_id=scorecard["id"])
    measure = await create_measure(client, scorecard["id"], baseline=0, target=100)
    url = f"/v1/measures/{measure['id']}/readings"
    start = datetime.now(UTC) - timedelta(minutes=5)

    async def post(i):
        response = await client.post(
            url,
            json={
                "value": 95 if i % 2 else 10,
                "observed_at": (start + timedelta(seconds=i)).isoformat(),
            },
        )
        assert response.status_code == 201

    await asyncio.gather(*(post(i) for i in range(40)))
    async with app.state.engine.connect() as connection:
        stored = (
            await connection.execute(
                text("SELECT count(*) FROM events WHERE data->>'measure_id' = :id"),
                {"id": measure["id"]},
            )
        ).scalar_one()
    await receiver.wait_for(stored, timeout=15)
    # Every delivery settled with one accepted attempt: no duplicate is in flight or still to come.
    deliveries = await settled_deliveries(app.state.engine)
    assert [(status, successes) for _, _, status, successes in deliveries] == [
        ("succeeded", 1)
    ] * stored
    payloads = [Webhook(webhook["secret"]).verify(r.body, r.headers) for r in receiver.requests]
    assert len(payloads) == len({p["id"] for p in payloads}) == stored  # each exactly once
    chain = sorted(payloads, key=lambda p: p["id"])  # ids are UUIDv7: creation order
    assert chain[0]["data"]["previous_status"] == "no_data"
    for before, after in itertools.pairwise(chain):
        assert after["data"]["previous_status"] == before["data"]["status"]
    current = (await client.get(f"/v1/measures/{measure['id']}")).json()["status"]
    assert chain[-1]["data"]["status"] == current == "green"
