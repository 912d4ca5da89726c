"""One scorecard whose stored row cannot be evaluated fails alone: the sweep goes on with the
others (logged and counted), and its score and history answer a clean 500 while everyone
else's answer as usual."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import text

from app.thresholds.sweeper import sweep
from tests.factories import create_measure, create_scorecard
from tests.scores.test_crossings import crossing_events


def sweep_failures() -> float:
    value = REGISTRY.get_sample_value("scorecard_background_failures_total", {"job": "sweep"})
    return value or 0.0


async def _green_daily_measure(client, now: datetime) -> tuple[dict, dict]:
    """A scorecard with a measure that is green today and turns red when a day passes."""
    scorecard = await create_scorecard(client)
    measure = await create_measure(
        client, scorecard["id"], aggregation="sum", baseline=0, target=10, cadence="day"
    )
    reading = await client.post(
        f"/v1/measures/{measure['id']}/readings", json={"value": 10, "observed_at": now.isoformat()}
    )
    assert reading.status_code == 201, reading.text
    assert (await client.get(f"/v1/measures/{measure['id']}")).json()["status"] == "green"
    return scorecard, measure


async def _corrupt_timezone(app, scorecard_id: str) -> None:
    # Bypasses the API's validation, as a manual fix or a restore from elsewhere could.
    async with app.state.engine.begin() as connection:
        await connection.execute(
            text("UPDATE scorecards SET timezone = 'Not/AZone' WHERE id = :id"),
            {"id": scorecard_id},
        )


async def test_a_scorecard_that_cannot_be_evaluated_does_not_stop_the_sweep(
    client, app, sessionmaker
):
    now = datetime.now(UTC)
    # Ids are UUIDv7, so the sweep meets them in creation order: the broken one comes first.
    built = [await _green_daily_measure(client, now) for _ in range(3)]
    (bad_scorecard, bad_measure), *good = built
    await _corrupt_timezone(app, bad_scorecard["id"])
    before = sweep_failures()

    # Two days on, each good measure's daily sum is 0: red, without any write.
    moved = await sweep(sessionmaker, now + timedelta(days=2))

    assert moved == len(good)
    assert sweep_failures() == before + 1
    for _, measure in good:
        assert (await client.get(f"/v1/measures/{measure['id']}")).json()["status"] == "red"
        events = await crossing_events(app, measure["id"])
        assert (events[-1]["previous_status"], events[-1]["status"]) == ("green", "red")
    assert (await client.get(f"/v1/measures/{bad_measure['id']}")).json()["status"] == "green"

    # The next pass fails on it again, once, and still sweeps the rest (nothing left to move).
    assert await sweep(sessionmaker, now + timedelta(days=2)) == 0
    assert sweep_failures() == before + 2


async def test_reads_of_a_broken_scorecard_fail_alone_and_cleanly(client, app):
    now = datetime.now(UTC)
    (bad, bad_measure), (good, good_measure) = [
        await _green_daily_measure(client, now) for _ in range(2)
    ]
    await _corrupt_timezone(app, bad["id"])

    for path in (
        f"/v1/scorecards/{bad['id']}/score",
        f"/v1/scorecards/{bad['id']}/history",
        f"/v1/measures/{bad_measure['id']}/score",
    ):
        response = await client.get(path)
        assert response.status_code == 500, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "Traceback" not in response.text and "Not/AZone" not in response.text

    for path in (
        f"/v1/scorecards/{good['id']}/score",
        f"/v1/scorecards/{good['id']}/history",
        f"/v1/measures/{good_measure['id']}/score",
        f"/v1/measures/{good_measure['id']}/history",
        "/v1/scorecards",
        f"/v1/scorecards/{bad['id']}",  # the stored definition itself is still readable
    ):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
