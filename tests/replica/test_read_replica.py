"""Reads from a streaming replica (SCORECARD_READ_DATABASE_URL): a client never misses a write
that committed before its read, whether the replica is caught up, paused or unreachable."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.auth.keys import Scope
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import make_key
from tests.factories import create_measure, create_scorecard
from tests.replica_server import free_port

NOW = datetime.now(UTC).isoformat()


async def counters(client: httpx.AsyncClient) -> dict[str, float]:
    """The replica metrics as /metrics shows them: `replica`, `primary`, and each fallback
    reason."""
    text = (await client.get("/metrics")).text
    found = {"replica": 0.0, "primary": 0.0, "lag": 0.0, "error": 0.0, "down": 0.0}
    for label, value in re.findall(
        r'^scorecard_replica_(?:reads|fallbacks)_total\{(?:served_by|reason)="(\w+)"\} (\S+)$',
        text,
        re.MULTILINE,
    ):
        found[label] = float(value)
    return found


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


async def scorecard_with_reading(client: httpx.AsyncClient, value: float) -> dict[str, Any]:
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], key="completion", name="Completion")
    reading = await client.post(
        f"/v1/measures/{measure['id']}/readings", json={"value": value, "observed_at": NOW}
    )
    assert reading.status_code == 201, reading.text
    link = await client.post(f"/v1/scorecards/{scorecard['id']}/share-links")
    assert link.status_code == 201, link.text
    return {"scorecard": scorecard, "measure": measure, "link": link.json()}


async def reads_of(client: httpx.AsyncClient, made: dict[str, Any]) -> dict[str, Any]:
    """What a user sees of the scorecard: its score, a measure's history, the readings list,
    the scorecards list and the shared dashboard."""
    scorecard_id, measure_id = made["scorecard"]["id"], made["measure"]["id"]
    responses = {
        "score": await client.get(f"/v1/scorecards/{scorecard_id}/score"),
        "history": await client.get(f"/v1/measures/{measure_id}/history"),
        "readings": await client.get(f"/v1/measures/{measure_id}/readings"),
        "scorecards": await client.get("/v1/scorecards"),
        "dashboard": await client.get(made["link"]["url"]),
    }
    for name, response in responses.items():
        assert response.status_code == 200, (name, response.text)
    return {
        "score": responses["score"].json()["score"],
        "history": [e["value"] for e in responses["history"].json()["entries"] if e["value"]],
        "readings": [r["value"] for r in responses["readings"].json()["items"]],
        "scorecards": {s["id"]: s["name"] for s in responses["scorecards"].json()["items"]},
        "dashboard": responses["dashboard"].text,
    }


async def test_a_caught_up_replica_answers_the_reads(replica_client, replica):
    made = await scorecard_with_reading(replica_client, 40)
    before = await counters(replica_client)
    # Other WAL (a checkpoint, a standby snapshot) may land between catching up and a read;
    # then that read goes to the primary (lag), which is right. One clean round is enough.
    for _ in range(5):
        await replica.catch_up()
        round_start = await counters(replica_client)
        seen = await reads_of(replica_client, made)
        if delta(await counters(replica_client), round_start) == {"replica": 5}:
            break
    else:
        pytest.fail(
            f"no read round went to the replica: {delta(await counters(replica_client), before)}"
        )
    assert seen["score"] == pytest.approx(40)
    assert seen["history"] == [40] and seen["readings"] == [40]
    assert "Completion" in seen["dashboard"]
    # One resource by id stays on the primary: one statement, key check included.
    before = await counters(replica_client)
    one = await replica_client.get(f"/v1/scorecards/{made['scorecard']['id']}")
    assert one.status_code == 200 and one.json()["name"] == made["scorecard"]["name"]
    assert delta(await counters(replica_client), before) == {}


async def test_a_write_is_seen_at_once_while_the_replica_is_paused(replica_client, replica):
    made = await scorecard_with_reading(replica_client, 40)
    await replica.catch_up()
    await replica.pause()
    measure_id = made["measure"]["id"]
    changed = await replica_client.patch(
        f"/v1/scorecards/{made['scorecard']['id']}", json={"name": "Renamed while paused"}
    )
    assert changed.status_code == 200, changed.text
    listed = await replica_client.get(f"/v1/measures/{measure_id}/readings")
    reading_id = listed.json()["items"][0]["id"]
    assert (await replica_client.delete(f"/v1/readings/{reading_id}")).status_code == 204
    posted = await replica_client.post(
        f"/v1/measures/{measure_id}/readings", json={"value": 90, "observed_at": NOW}
    )
    assert posted.status_code == 201, posted.text
    # The replica itself has not seen the new reading...
    on_replica = await replica.fetchval(
        "SELECT count(*) FROM readings WHERE measure_id = $1 AND value = 90", measure_id
    )
    assert on_replica == 0
    before = await counters(replica_client)
    seen = await reads_of(replica_client, made)
    # ...yet every read shows it: the primary answered, each fallback counted as lag.
    assert seen["score"] == pytest.approx(90)
    assert seen["history"] == [90] and seen["readings"] == [90]
    assert seen["scorecards"] == {made["scorecard"]["id"]: "Renamed while paused"}
    assert "Renamed while paused" in seen["dashboard"]
    assert delta(await counters(replica_client), before) == {"primary": 5, "lag": 5}

    # Replay resumed and caught up, the replica answers again, with the same data.
    await replica.resume()
    for _ in range(5):
        await replica.catch_up()
        before = await counters(replica_client)
        score = await replica_client.get(f"/v1/scorecards/{made['scorecard']['id']}/score")
        if delta(await counters(replica_client), before) == {"replica": 1}:
            break
    else:
        pytest.fail("no read went to the replica after it caught up")
    assert score.json()["score"] == pytest.approx(90)


async def test_a_cached_score_needs_no_replica(client_reading_from, replica_url, replica):
    client = await client_reading_from(replica_url)
    made = await scorecard_with_reading(client, 40)
    path = f"/v1/scorecards/{made['scorecard']['id']}/score?as_of={NOW.replace('+', '%2B')}"
    first = await client.get(path)
    before = await counters(client)
    again = await client.get(path)
    # The version, read on the primary, is unchanged: the score is the one computed before.
    assert again.json() == first.json() and again.json()["score"] == pytest.approx(40)
    assert delta(await counters(client), before) == {}


async def test_a_revoked_key_is_refused_at_once_while_the_replica_is_paused(
    replica_client, replica
):
    created = await replica_client.post(
        "/v1/api-keys", json={"name": "short-lived", "scope": "read"}
    )
    assert created.status_code == 201, created.text
    key = created.json()
    reader = {"Authorization": f"Bearer {key['key']}"}
    assert (await replica_client.get("/v1/scorecards", headers=reader)).status_code == 200
    await replica.pause()
    assert (await replica_client.delete(f"/v1/api-keys/{key['id']}")).status_code == 204
    refused = await replica_client.get("/v1/scorecards", headers=reader)
    assert refused.status_code == 401


async def test_readiness_reports_the_replica(replica_client, replica):
    await replica.catch_up()
    ready = await replica_client.get("/readyz")
    assert ready.status_code == 200
    check = ready.json()["checks"]["read_replica"]
    assert check["status"] == "pass" and check["replay_paused"] is False
    assert check["replay_lag_bytes"] >= 0
    await replica.pause()
    paused = (await replica_client.get("/readyz")).json()["checks"]["read_replica"]
    assert paused["status"] == "pass" and paused["replay_paused"] is True


@pytest.fixture
async def client_reading_from(database_url, sessionmaker, clean_db):
    """`await client_reading_from(url)`: a client of an app whose read replica is `url`."""
    async with AsyncExitStack() as stack:

        async def make(url: str) -> httpx.AsyncClient:
            settings = Settings(
                database_url=None, log_level="WARNING", scorecard_read_database_url=url
            )
            application = create_app(settings, database_url=database_url)
            await stack.enter_async_context(application.router.lifespan_context(application))
            key = await make_key(sessionmaker, Scope.admin)
            transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
            return await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=transport,
                    base_url="http://test",
                    headers={"Authorization": f"Bearer {key}"},
                )
            )

        yield make


async def test_an_unreachable_replica_costs_no_read(client_reading_from):
    # Nothing listens on that port.
    client = await client_reading_from(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    made = await scorecard_with_reading(client, 40)
    before = await counters(client)
    seen = await reads_of(client, made)
    assert seen["score"] == pytest.approx(40) and seen["readings"] == [40]
    # The first read found it down; the next ones leave it alone for a while.
    assert delta(await counters(client), before) == {"primary": 5, "error": 1, "down": 4}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text  # reads still work: the app stays in rotation
    assert ready.json()["checks"]["read_replica"]["status"] == "fail"


async def test_a_server_that_is_not_a_standby_is_never_read(client_reading_from, database_url):
    # E.g. a promoted replica, or the primary itself: it cannot say how far it has replayed.
    client = await client_reading_from(database_url)
    made = await scorecard_with_reading(client, 40)
    before = await counters(client)
    seen = await reads_of(client, made)
    assert seen["score"] == pytest.approx(40) and seen["readings"] == [40]
    assert delta(await counters(client), before) == {"primary": 5, "lag": 5}
    check = (await client.get("/readyz")).json()["checks"]["read_replica"]
    assert check["status"] == "fail" and "not a standby" in check["error"]


async def test_dropped_replica_connections_cost_no_read(replica_client, replica):
    """Runs last: the app may leave the replica alone for a few seconds afterwards."""
    made = await scorecard_with_reading(replica_client, 40)
    await replica.catch_up()
    await reads_of(replica_client, made)  # the app now holds connections to the replica
    dropped = await replica.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = 'scorecard'"
    )
    assert dropped >= 1
    before = await counters(replica_client)
    seen = await reads_of(replica_client, made)
    assert seen["score"] == pytest.approx(40) and seen["readings"] == [40]
    served = delta(await counters(replica_client), before)
    assert served.get("replica", 0) + served.get("primary", 0) == 5
