"""/metrics: what ops scrape.

The registry is process-wide and other tests have already moved its counters, so each check
reads the counter before acting and asserts the exact increase the action must cause."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import create_measure, create_scorecard

READINGS_ROUTE = "/v1/measures/{measure_id}/readings"


async def scrape(anon: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample on /metrics, keyed by name and labels (absent: 0, as Prometheus reads it)."""
    response = await anon.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_key(method: str, status: str) -> tuple[str, frozenset[tuple[str, str]]]:
    labels = {"handler": READINGS_ROUTE, "method": method, "status": status}
    return "scorecard_http_requests_total", frozenset(labels.items())


INGESTED = ("scorecard_readings_ingested_total", frozenset[tuple[str, str]]())


async def test_metrics_count_requests_by_route_and_readings_stored(client, anon):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"])
    url = f"/v1/measures/{measure['id']}/readings"
    before = await scrape(anon)

    for value, external_id in ((1, "a"), (2, "b"), (1, "a")):  # the third is a retry of the first
        await client.post(
            url,
            json={
                "value": value,
                "observed_at": "2026-01-01T00:00:00Z",
                "external_id": external_id,
            },
        )
    after = await scrape(anon)

    def increase(key: tuple[str, frozenset[tuple[str, str]]]) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    # By route template (not the concrete URL), method and exact status.
    assert increase(requests_key("POST", "201")) == 2
    assert increase(requests_key("POST", "200")) == 1
    # A retry of a stored reading stores nothing, so it is not counted as ingested.
    assert increase(INGESTED) == 2
    latency = "scorecard_http_request_duration_seconds_count"
    labels = frozenset({"handler": READINGS_ROUTE, "method": "POST"}.items())
    assert increase((latency, labels)) == 3
