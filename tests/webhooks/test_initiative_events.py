"""An initiative's status change reaches subscribers as a signed `initiative.status_changed`
webhook, through the outbox in the change's transaction; subscriptions filter on it."""

from __future__ import annotations

from standardwebhooks.webhooks import Webhook

from tests.factories import create_scorecard
from tests.initiatives.test_initiatives_api import create_initiative
from tests.webhooks.conftest import settled_deliveries


async def test_status_change_is_delivered_to_matching_subscriptions(
    client, app, receiver, subscribe, worker
):
    scorecard = await create_scorecard(client)
    other = await create_scorecard(client, name="Other")
    initiatives_only = await subscribe("/initiatives", event_types=["initiative.status_changed"])
    crossings_only = await subscribe("/crossings", event_types=["measure.threshold_crossed"])
    other_scorecard = await subscribe("/other", scorecard_id=other["id"])
    initiative = await create_initiative(client, scorecard["id"], name="Coaching")
    url = f"/v1/initiatives/{initiative['id']}"

    # No status change, no event: other fields, or the same status again.
    assert (await client.patch(url, json={"progress": 10})).status_code == 200
    assert (await client.patch(url, json={"status": "planned"})).status_code == 200
    assert (await client.patch(url, json={"status": "on_track"})).status_code == 200
    # A refused change emits nothing either.
    assert (
        await client.patch(url, json={"status": "at_risk"}, headers={"If-Match": '"1"'})
    ).status_code == 412
    assert (await client.patch(url, json={"status": "at_risk", "progress": 20})).status_code == 200

    [first, second] = await receiver.wait_for(2, timeout=10)
    deliveries = await settled_deliveries(app.state.engine)
    assert [(status, successes) for _, _, status, successes in deliveries] == [("succeeded", 1)] * 2
    assert {d[1] for d in deliveries} == {initiatives_only["id"]}
    assert crossings_only["id"] != other_scorecard["id"]
    assert {r.path for r in receiver.requests} == {"/initiatives"}
    signed = Webhook(initiatives_only["secret"])
    events = [signed.verify(r.body, r.headers) for r in (first, second)]
    events.sort(key=lambda e: e["id"])  # UUIDv7: creation order
    assert [e["type"] for e in events] == ["initiative.status_changed"] * 2
    assert [e["data"] for e in events] == [
        {
            "scorecard_id": scorecard["id"],
            "initiative_id": initiative["id"],
            "name": "Coaching",
            "previous_status": "planned",
            "status": "on_track",
        },
        {
            "scorecard_id": scorecard["id"],
            "initiative_id": initiative["id"],
            "name": "Coaching",
            "previous_status": "on_track",
            "status": "at_risk",
        },
    ]
    # The event log lists them too, filterable by type.
    logged = await client.get("/v1/events", params={"type": "initiative.status_changed"})
    assert logged.status_code == 200
    assert [e["id"] for e in logged.json()["items"]] == [e["id"] for e in events]
