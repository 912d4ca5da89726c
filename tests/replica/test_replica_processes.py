"""The real server, two worker processes reading from the replica: a write made through one
process is seen by reads through the other at once, whichever way replay stands."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from tests.e2e.server import cli_key, running_server

pytestmark = pytest.mark.e2e

READS = 16  # fresh connections, which the kernel spreads over the two processes


def _scores(base_url: str, key: str, scorecard_id: str) -> list[float]:
    """The score as read by `READS` fresh connections (spread over the worker processes)."""
    scores = []
    for _ in range(READS):
        with httpx.Client(base_url=base_url, timeout=10) as http:
            response = http.get(
                f"/v1/scorecards/{scorecard_id}/score",
                headers={"Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 200, response.text
            scores.append(response.json()["score"])
    return scores


def test_every_process_sees_a_write_at_once_while_replay_is_paused(clean_db, replica_url, replica):
    env = {"SCORECARD_READ_DATABASE_URL": replica_url, "SCORECARD_SCORE_CACHE_SECONDS": "0"}
    with running_server(clean_db, "--workers", "2", "--no-worker", env=env, start_timeout=120) as (
        base_url,
        _,
    ):
        key = cli_key(clean_db)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http:
            scorecard = http.post("/v1/scorecards", json={"name": "Academy"}).json()
            measure = http.post(
                f"/v1/scorecards/{scorecard['id']}/measures",
                json={
                    "key": "completion",
                    "name": "Completion rate",
                    "perspective": "customer",
                    "direction": "increase",
                    "baseline": 0,
                    "target": 100,
                },
            ).json()
            readings = f"/v1/measures/{measure['id']}/readings"
            now = datetime.now(UTC).isoformat()
            assert http.post(readings, json={"value": 40, "observed_at": now}).status_code == 201
            asyncio.run(replica.catch_up())
            assert _scores(base_url, key, scorecard["id"]) == [40] * READS

            asyncio.run(replica.pause())
            later = datetime.now(UTC).isoformat()
            assert http.post(readings, json={"value": 80, "observed_at": later}).status_code == 201
            # Two readings of 40 and 80: the latest, 80, is the measure's value.
            assert _scores(base_url, key, scorecard["id"]) == [80] * READS
