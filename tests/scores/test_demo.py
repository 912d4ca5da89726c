"""`scorecard demo` loads a full T&D scorecard, once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from app.demo import DEMO_SCORECARD_ID, MEASURES, load_demo
from app.readings.models import Reading


async def test_demo_loads_once_and_scores(client, sessionmaker):
    async with sessionmaker() as session:
        scorecard_id, created = await load_demo(session)
        readings = await session.scalar(select(func.count()).select_from(Reading))
    assert created and scorecard_id == DEMO_SCORECARD_ID
    assert readings > 1500  # a year of daily, weekly, monthly and quarterly series
    async with sessionmaker() as session:
        _, created_again = await load_demo(session)
        assert await session.scalar(select(func.count()).select_from(Reading)) == readings
    assert not created_again

    card = (await client.get(f"/v1/scorecards/{DEMO_SCORECARD_ID}/score")).json()
    measures = [m for p in card["perspectives"] for o in p["objectives"] for m in o["measures"]]
    assert len(measures) == len(MEASURES) == 16
    assert card["coverage"] == 1
    assert 0 < card["score"] <= 100
    # Its strategy map: capability → delivery → delight → spend, and capability → delight.
    strategy = (await client.get(f"/v1/scorecards/{DEMO_SCORECARD_ID}/map")).json()
    assert [n["perspective"] for n in strategy["nodes"]] == [
        "financial",
        "customer",
        "internal_process",
        "learning_growth",
    ]
    assert all(n["status"] != "no_data" for n in strategy["nodes"])
    assert len(strategy["edges"]) == 4
    levels = (
        await client.get(f"/v1/scorecards/{DEMO_SCORECARD_ID}/measures", params={"level": "roi"})
    ).json()["items"]
    assert {m["key"] for m in levels} == {"cost-per-learner", "training-roi"}

    # Three initiatives with budgets in two currencies; one is late (its end date has passed
    # and it is not done).
    initiatives = (await client.get(f"/v1/scorecards/{DEMO_SCORECARD_ID}/initiatives")).json()[
        "items"
    ]
    assert len(initiatives) == 3
    today = datetime.now(UTC).date().isoformat()
    late = [i for i in initiatives if i["end_date"] < today and i["status"] != "done"]
    assert [i["name"] for i in late] == ["LMS content refresh"]
    summary = (await client.get(f"/v1/scorecards/{DEMO_SCORECARD_ID}/initiatives/summary")).json()
    assert summary["budget"] == [
        {"currency": "EUR", "planned": 78_000.0, "spent": 60_700.0},
        {"currency": "USD", "planned": 5_000.0, "spent": 0.0},
    ]
    objectives_with_initiatives = [
        o for p in card["perspectives"] for o in p["objectives"] if o["initiatives"]
    ]
    assert len(objectives_with_initiatives) == 3


async def test_the_demo_shows_the_reporting_cycle(client, sessionmaker):
    async with sessionmaker() as session:
        await load_demo(session)
    measures = (
        await client.get(f"/v1/scorecards/{DEMO_SCORECARD_ID}/measures", params={"limit": 50})
    ).json()["items"]
    assert all(m["owner"] for m in measures)
    scheduled = {m["key"] for m in measures if m["due_after_days"] is not None}
    assert "learner-nps" in scheduled and "completion-rate" not in scheduled
    nps = next(m for m in measures if m["key"] == "learner-nps")
    [step] = nps["targets"]
    # The target steps up from 50 to 60 on the first of the month half a year ago.
    before = (
        await client.get(
            f"/v1/measures/{nps['id']}/score",
            params={"as_of": step["from"], "period": "previous"},
        )
    ).json()
    current = (await client.get(f"/v1/measures/{nps['id']}/score")).json()
    assert (before["target"], current["target"]) == (50, 60)
    due = await client.get("/v1/readings/due", params={"scorecard_id": str(DEMO_SCORECARD_ID)})
    assert due.status_code == 200
    assert {d["measure_key"] for d in due.json()["items"]} <= scheduled
