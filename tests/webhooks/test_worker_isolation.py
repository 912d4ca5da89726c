"""One delivery whose stored event cannot be sent fails alone: the worker delivers the others,
logs and counts the failure, and settles the broken one by the retry rules (no spinning)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tests.webhooks.conftest import FAST_SCHEDULE, eventually, running_worker, sql


def failures(job: str) -> float:
    value = REGISTRY.get_sample_value("scorecard_background_failures_total", {"job": job})
    return value or 0.0


# Rows the service never writes, but a restore, a manual fix or an old bug could leave behind.
CORRUPTIONS = [
    # Valid in PostgreSQL, beyond what Python's datetime (and so the driver) can hold.
    pytest.param("UPDATE events SET timestamp = '20000-01-01T00:00:00Z' WHERE id = :id", id="year"),
    # Valid JSONB, nested deeper than Python's JSON decoder goes.
    pytest.param(
        "UPDATE events SET data = jsonb_build_object("
        "'deep', (repeat('[', 5000) || repeat(']', 5000))::jsonb) WHERE id = :id",
        id="nesting",
    ),
    # Decodes, but no JSON encoder of ours can write it back (beyond 64 bits).
    pytest.param(
        "UPDATE events SET data = '{\"n\": 123456789012345678901234567890}' WHERE id = :id",
        id="bigint",
    ),
]


@pytest.mark.parametrize("corruption", CORRUPTIONS)
async def test_a_delivery_that_cannot_be_sent_does_not_stop_the_others(
    app, client, receiver, subscribe, emit, delivery_settings, corruption
):
    webhook = await subscribe()
    # Emitted before any worker runs, so all three are claimed in one batch.
    bad, *good = [await emit({"n": n}) for n in range(3)]
    await sql(app.state.engine, corruption, id=bad)
    before = failures("delivery")

    async with running_worker(app.state.engine, delivery_settings):
        received = await receiver.wait_for(len(good))

        async def settled() -> bool:
            page = (await client.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()
            return all(d["status"] in ("succeeded", "failed") for d in page["items"])

        await eventually(settled)

    assert sorted(r.webhook_id for r in received) == sorted(good)
    deliveries = (await client.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()["items"]
    by_event = {d["event_id"]: d for d in deliveries}
    assert [by_event[e]["status"] for e in good] == ["succeeded", "succeeded"]
    broken = by_event[bad]
    # Tried on the schedule like any failed attempt, then given up: no endless re-claiming.
    assert broken["status"] == "failed"
    assert broken["attempts"] == len(FAST_SCHEDULE)
    assert broken["last_error"].startswith("internal error:")
    assert broken["last_status_code"] is None
    assert failures("delivery") == before + len(FAST_SCHEDULE)
