"""The demo scorecard comes with the team's commentary on its red periods."""

from __future__ import annotations

from datetime import UTC, datetime

from app.demo import DEMO_SCORECARD_ID, load_demo


async def test_every_closed_red_period_of_the_demo_is_explained(client, sessionmaker):
    now = datetime.now(UTC)
    async with sessionmaker() as session:
        await load_demo(session, now)
    scorecard = (await client.get(f"/v1/scorecards/{DEMO_SCORECARD_ID}")).json()
    assert scorecard["commentary_required_for"] == ["red"]
    measures = (
        await client.get(f"/v1/scorecards/{DEMO_SCORECARD_ID}/measures", params={"limit": 50})
    ).json()["items"]
    explained = 0
    for measure in measures:
        history = (await client.get(f"/v1/measures/{measure['id']}/history")).json()
        for entry in history["entries"]:
            closed = datetime.fromisoformat(entry["period"]["end"]) <= now
            if entry["status"] == "red" and closed:
                assert entry["commentary"] is not None, (measure["key"], entry["period"])
                assert entry["commentary"]["analysis"] and entry["commentary"]["actions"]
                explained += 1
            else:
                assert entry["commentary"] is None, (measure["key"], entry["period"])
    assert explained >= 1
    listed = (await client.get(f"/v1/measures/{measures[0]['id']}/commentary")).json()
    assert all(c["author"] == "L&D leadership team" for c in listed["items"])

    card = (await client.get(f"/v1/scorecards/{DEMO_SCORECARD_ID}/score")).json()
    nodes = [m for p in card["perspectives"] for o in p["objectives"] for m in o["measures"]]
    for node in nodes:
        assert node["commentary_missing"] == (node["status"] == "red"), node["key"]
