"""/metrics: what ops scrape."""

from __future__ import annotations

from tests.factories import create_measure, create_scorecard


async def test_metrics_count_requests_by_route_and_readings(client, anon):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"])
    await client.post(
        f"/v1/measures/{measure['id']}/readings",
        json={"value": 1, "observed_at": "2026-01-01T00:00:00Z"},
    )
    response = await anon.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'handler="/v1/measures/{measure_id}/readings"' in text
    assert "scorecard_http_request_duration_seconds_bucket" in text
    ingested = next(
        line for line in text.splitlines() if line.startswith("scorecard_readings_ingested_total ")
    )
    assert float(ingested.split()[1]) >= 1
