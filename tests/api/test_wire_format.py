"""What every response looks like on the wire: computed numbers to 6 decimal places, timestamps
in UTC with `Z`, whatever offset the client wrote."""

from __future__ import annotations

from tests.factories import create_measure, create_scorecard


async def test_computed_numbers_are_rounded_to_6_places_and_stored_ones_kept(client):
    scorecard = await create_scorecard(client, timezone="Asia/Kathmandu")
    measure = await create_measure(
        client, scorecard["id"], aggregation="sum", baseline=0, target=0.3, cadence="year"
    )
    for value in (0.1, 0.2, 0.123456789):
        response = await client.post(
            f"/v1/measures/{measure['id']}/readings",
            json={"value": value, "observed_at": "2026-03-01T09:00:00+05:45"},
        )
        assert response.status_code == 201
    score = (await client.get(f"/v1/measures/{measure['id']}/score")).json()
    # 0.1 + 0.2 + 0.123456789 is 0.42345678900000004 in floating point
    assert score["value"] == 0.423457
    assert score["progress"] == 141.152333  # 0.423457 / 0.3 * 100, to 6 places
    assert score["score"] == 100.0 and score["status"] == "green"
    readings = (await client.get(f"/v1/measures/{measure['id']}/readings")).json()["items"]
    assert sorted(r["value"] for r in readings) == [0.1, 0.123456789, 0.2]  # as stored


async def test_every_timestamp_is_answered_in_utc_with_z(client):
    scorecard = await create_scorecard(client, timezone="America/New_York")
    measure = await create_measure(client, scorecard["id"])
    reading = await client.post(
        f"/v1/measures/{measure['id']}/readings",
        json={"value": 50, "observed_at": "2026-03-01T09:00:00-05:00"},
    )
    assert reading.json()["observed_at"] == "2026-03-01T14:00:00Z"
    assert reading.json()["created_at"].endswith("Z")
    score = await client.get(
        f"/v1/scorecards/{scorecard['id']}/score", params={"as_of": "2026-03-02T00:00:00+05:45"}
    )
    body = score.json()
    assert body["as_of"] == "2026-03-01T18:15:00Z"
    [entry] = body["perspectives"][3]["measures"]
    # March in New York starts at 05:00 UTC
    assert entry["period"] == {"start": "2026-03-01T05:00:00Z", "end": "2026-04-01T04:00:00Z"}
    events = (await client.get("/v1/events")).json()["items"]
    assert events and all(e["timestamp"].endswith("Z") for e in events)
    assert all(e["data"]["as_of"].endswith("Z") for e in events)
