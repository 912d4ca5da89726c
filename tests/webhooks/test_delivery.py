"""Delivering events: signed per Standard Webhooks, retried with the same webhook-id, filtered,
disabled on 410 or after 5 days of failures, exactly once across workers, safe across crashes."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from standardwebhooks.webhooks import Webhook

from app.webhooks.events import emit_event
from tests.factories import create_scorecard
from tests.webhooks.conftest import eventually, running_worker, settled_deliveries, sql
from tests.webhooks.receiver import Answer


async def _deliveries(client, webhook_id):
    response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200
    return response.json()["items"]


async def _settled(client, webhook_id, status="succeeded", count=1):
    async def reached() -> bool:
        items = await _deliveries(client, webhook_id)
        return len(items) == count and all(d["status"] == status for d in items)

    await eventually(reached)
    return await _deliveries(client, webhook_id)


async def test_delivery_is_signed_per_standard_webhooks(client, receiver, subscribe, emit, worker):
    webhook = await subscribe()
    event_id = await emit({"measure_key": "completion", "status": "green"})
    [received] = await receiver.wait_for(1)
    payload = Webhook(webhook["secret"]).verify(received.body, received.headers)
    assert payload["id"] == event_id == received.webhook_id
    assert payload["type"] == "measure.threshold_crossed"
    assert payload["data"] == {"measure_key": "completion", "status": "green"}
    assert datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
    assert set(payload) == {"type", "id", "timestamp", "data"}
    assert received.headers["content-type"] == "application/json"
    assert abs(int(received.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 10
    assert received.body == orjson.dumps(payload)  # compact: the signed bytes are the body
    [delivery] = await _settled(client, webhook["id"])
    assert delivery["event_id"] == event_id
    assert delivery["event_type"] == "measure.threshold_crossed"
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == 200
    assert [a["status_code"] for a in delivery["attempt_log"]] == [200]
    assert delivery["completed_at"] is not None


async def test_failures_are_retried_with_the_same_webhook_id(
    client, receiver, subscribe, emit, worker
):
    webhook = await subscribe()
    receiver.answer(500, 502)
    event_id = await emit()
    received = await receiver.wait_for(3)
    assert [r.webhook_id for r in received] == [event_id] * 3
    for request in received:
        Webhook(webhook["secret"]).verify(request.body, request.headers)
    [delivery] = await _settled(client, webhook["id"])
    assert delivery["attempts"] == 3
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 502, 200]
    assert delivery["attempt_log"][0]["error"] == "HTTP 500: nope"
    assert all(a["duration_ms"] >= 0 for a in delivery["attempt_log"])


async def test_exhausted_schedule_fails_and_manual_retry_resends(
    client, receiver, subscribe, emit, worker
):
    webhook = await subscribe()
    receiver.answer(500, 500, 500)
    event_id = await emit()
    [delivery] = await _settled(client, webhook["id"], status="failed")
    assert delivery["attempts"] == 3  # the schedule 0, 0.2, 0.2 has three attempts
    assert delivery["last_status_code"] == 500
    assert delivery["next_attempt_at"] is None
    retried = await client.post(f"/v1/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 202
    assert retried.json()["status"] == "pending"
    received = await receiver.wait_for(4)
    assert received[-1].webhook_id == event_id
    [delivery] = await _settled(client, webhook["id"])
    assert delivery["attempts"] == 4


async def test_gone_disables_the_subscription_until_reactivated(
    client, receiver, subscribe, emit, worker
):
    webhook = await subscribe()
    receiver.answer(410)
    await emit()
    [delivery] = await _settled(client, webhook["id"], status="failed")
    assert delivery["attempts"] == 1  # 410 is final, not retried
    disabled = (await client.get(f"/v1/webhooks/{webhook['id']}")).json()
    assert disabled["active"] is False
    assert "410" in disabled["disabled_reason"]
    await emit()  # not delivered to a disabled subscription
    assert len(await _deliveries(client, webhook["id"])) == 1
    retry = await client.post(f"/v1/deliveries/{delivery['id']}/retry")
    assert retry.status_code == 409
    reactivated = await client.patch(f"/v1/webhooks/{webhook['id']}", json={"active": True})
    assert reactivated.json()["active"] is True
    assert reactivated.json()["disabled_reason"] is None
    await emit()
    await receiver.wait_for(2)


async def test_retry_after_is_honoured(client, receiver, subscribe, emit, worker):
    webhook = await subscribe()
    receiver.answer(Answer(429, (("Retry-After", "1"),)), Answer(503, (("Retry-After", "1"),)))
    await emit()
    first, second, third = await receiver.wait_for(3, timeout=6)
    # The schedule alone would wait 0.2 s ± 20%.
    assert second.at - first.at >= 0.95
    assert third.at - second.at >= 0.95
    await _settled(client, webhook["id"])


async def test_five_days_of_failures_disable_the_subscription(
    client, app, receiver, subscribe, emit, worker
):
    webhook = await subscribe()
    await sql(
        app.state.engine,
        "UPDATE webhook_subscriptions SET failing_since = now() - "
        "interval '5 days 1 minute' WHERE id = :id",
        id=webhook["id"],
    )
    receiver.answer(500)
    await emit()
    await receiver.wait_for(1)

    async def disabled() -> bool:
        return not (await client.get(f"/v1/webhooks/{webhook['id']}")).json()["active"]

    await eventually(disabled)
    reason = (await client.get(f"/v1/webhooks/{webhook['id']}")).json()["disabled_reason"]
    assert "5 days" in reason


async def test_a_success_resets_the_failure_clock(client, app, receiver, subscribe, emit, worker):
    webhook = await subscribe()
    receiver.answer(500)
    await emit()
    await _settled(client, webhook["id"])
    [[failing_since]] = await sql(
        app.state.engine,
        "SELECT failing_since FROM webhook_subscriptions WHERE id = :id",
        id=webhook["id"],
    )
    assert failing_since is None


async def test_event_type_and_scorecard_filters(client, app, receiver, subscribe, emit, worker):
    academy = await create_scorecard(client, name="Academy")
    onboarding = await create_scorecard(client, name="Onboarding")
    everything = await subscribe("/all")
    only_academy = await subscribe("/academy", scorecard_id=academy["id"])
    only_tests = await subscribe("/tests", event_types=["webhook.test"])
    await emit(scorecard_id=academy["id"])
    await emit(scorecard_id=onboarding["id"])
    await emit(scorecard_id=None)
    # Deliveries are queued when the event commits: once all are settled, nothing else comes.
    deliveries = await settled_deliveries(app.state.engine)
    assert [(status, successes) for _, _, status, successes in deliveries] == [("succeeded", 1)] * 4
    paths = sorted(r.path for r in receiver.requests)
    assert paths == ["/academy", "/all", "/all", "/all"]
    assert len(await _deliveries(client, everything["id"])) == 3
    assert len(await _deliveries(client, only_academy["id"])) == 1
    assert await _deliveries(client, only_tests["id"]) == []


async def test_test_endpoint_sends_to_that_subscription_only(client, receiver, subscribe, worker):
    target = await subscribe("/target", event_types=["measure.threshold_crossed"])
    bystander = await subscribe("/bystander")
    sent = await client.post(f"/v1/webhooks/{target['id']}/test")
    assert sent.status_code == 202
    delivery = sent.json()
    assert sent.headers["location"] == f"/v1/deliveries/{delivery['id']}"
    assert delivery["event_type"] == "webhook.test"
    [received] = await receiver.wait_for(1)
    assert received.path == "/target"
    payload = Webhook(target["secret"]).verify(received.body, received.headers)
    assert payload["type"] == "webhook.test"
    assert payload["id"] == delivery["event_id"]

    async def succeeded() -> bool:
        return (await client.get(sent.headers["location"])).json()["status"] == "succeeded"

    await eventually(succeeded)
    assert await _deliveries(client, bystander["id"]) == []


async def test_messages_after_rotation_verify_with_old_and_new_secret(
    client, receiver, subscribe, emit, worker
):
    webhook = await subscribe()
    rotated = (await client.post(f"/v1/webhooks/{webhook['id']}/rotate-secret")).json()
    await emit()
    [received] = await receiver.wait_for(1)
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    Webhook(rotated["secret"]).verify(received.body, received.headers)
    Webhook(webhook["secret"]).verify(received.body, received.headers)


async def test_nothing_is_sent_for_a_rolled_back_transaction(
    app, sessionmaker, receiver, subscribe, worker
):
    await subscribe()
    async with sessionmaker() as session:
        await emit_event(session, "measure.threshold_crossed", {"n": 1}, scorecard_id=None)
        await session.rollback()
    # Nothing of the rolled-back event was queued, so there is nothing a worker could send...
    assert await sql(app.state.engine, "SELECT count(*) FROM events") == [(0,)]
    assert await settled_deliveries(app.state.engine) == []
    # ...and the running worker does send a committed one: exactly that one arrives.
    async with sessionmaker() as session:
        committed = await emit_event(
            session, "measure.threshold_crossed", {"n": 2}, scorecard_id=None
        )
        await session.commit()
    await receiver.wait_for(1)
    [(event_id, _, status, successes)] = await settled_deliveries(app.state.engine)
    assert (event_id, status, successes) == (str(committed), "succeeded", 1)
    assert [r.webhook_id for r in receiver.requests] == [str(committed)]


async def test_two_workers_deliver_each_message_exactly_once(
    app, sessionmaker, second_engine, delivery_settings, receiver, subscribe, clean_db
):
    await subscribe()
    async with sessionmaker() as session:
        for n in range(200):
            await emit_event(session, "measure.threshold_crossed", {"n": n}, scorecard_id=None)
        await session.commit()
    async with (
        running_worker(app.state.engine, delivery_settings, max_in_flight=20),
        running_worker(second_engine, delivery_settings, max_in_flight=20),
    ):
        received = await receiver.wait_for(200, timeout=15)
        # With both workers still running: every delivery settled with exactly one accepted
        # attempt (a connection the receiver dropped under load is retried, and that is no
        # duplicate), so no duplicate is in flight or can still be claimed.
        deliveries = await settled_deliveries(app.state.engine)
    assert len(deliveries) == 200
    assert {(status, successes) for _, _, status, successes in deliveries} == {("succeeded", 1)}
    ids = [r.webhook_id for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 200
    assert sorted(orjson.loads(r.body)["data"]["n"] for r in received) == list(range(200))


async def test_expired_lease_is_taken_over_and_live_lease_is_respected(
    client, app, receiver, subscribe, emit, delivery_settings
):
    """A worker that died mid-attempt leaves its delivery 'delivering'; once the lease expires,
    another worker sends it. A lease still running is left alone."""
    webhook = await subscribe()
    orphaned = await emit({"which": "orphaned"})
    busy = await emit({"which": "busy"})
    await sql(
        app.state.engine,
        """
        UPDATE deliveries SET status = 'delivering', attempts = 1,
            lease_expires_at = now() + CASE WHEN event_id = :orphaned
                                            THEN interval '-1 second' ELSE interval '1 hour' END
        """,
        orphaned=orphaned,
    )
    async with running_worker(app.state.engine, delivery_settings):
        [received] = await receiver.wait_for(1)

        async def orphan_settled() -> bool:
            [[status]] = await sql(
                app.state.engine, "SELECT status FROM deliveries WHERE event_id = :id", id=orphaned
            )
            return status == "succeeded"  # type: ignore[no-any-return]

        await eventually(orphan_settled)
        # The busy delivery's lease runs for another hour, so no worker may claim it: with the
        # orphan settled, nothing else can be sent while this worker runs.
        [[lease_left]] = await sql(
            app.state.engine,
            "SELECT lease_expires_at - now() > interval '50 minutes' FROM deliveries "
            "WHERE event_id = :id",
            id=busy,
        )
        assert lease_left
    assert received.webhook_id == orphaned
    assert len(receiver.requests) == 1
    by_event = {d["event_id"]: d for d in await _deliveries(client, webhook["id"])}
    assert by_event[orphaned]["status"] == "succeeded"
    assert by_event[orphaned]["attempts"] == 2
    assert by_event[busy]["status"] == "delivering"


async def test_stopping_lets_in_flight_attempts_finish(
    client, app, receiver, subscribe, emit, delivery_settings
):
    webhook = await subscribe()
    receiver.answer(Answer(200, delay=0.5))
    async with running_worker(app.state.engine, delivery_settings):
        await emit()
        await receiver.wait_for(1)
    # The worker has stopped: the slow attempt was finished and recorded, not abandoned.
    [delivery] = await _deliveries(client, webhook["id"])
    assert delivery["status"] == "succeeded"


async def test_readyz_reports_the_webhook_backlog(anon, subscribe, emit):
    await subscribe()
    await emit()
    await emit()
    ready = (await anon.get("/readyz")).json()
    webhooks = ready["checks"]["webhooks"]
    assert webhooks["status"] == "pass"
    assert webhooks["pending"] == webhooks["due"] == 2
    assert webhooks["oldest_due_age_s"] >= 0
