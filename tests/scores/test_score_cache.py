"""Scores are reused between requests only while nothing they depend on has changed: every
committed reading or definition edit shows in the very next score, in every process."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import httpx
from sqlalchemy import text

from app.scores.cache import ScoreCache
from app.scoring import PeriodSelector
from tests.e2e.server import running_server
from tests.factories import create_measure, create_scorecard


def measure_entry(score: dict, measure_id: str) -> dict:
    for perspective in score["perspectives"]:
        for entry in perspective["measures"]:
            if entry["measure_id"] == measure_id:
                return entry  # type: ignore[no-any-return]
    raise AssertionError(f"measure {measure_id} not in the score")


async def test_the_next_score_shows_every_write(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], baseline=0, target=100)
    url = f"/v1/scorecards/{scorecard['id']}/score"
    readings = f"/v1/measures/{measure['id']}/readings"
    assert measure_entry((await client.get(url)).json(), measure["id"])["value"] is None

    for value in (40, 95, 10):
        posted = await client.post(
            readings, json={"value": value, "observed_at": datetime.now(UTC).isoformat()}
        )
        assert posted.status_code == 201
        assert measure_entry((await client.get(url)).json(), measure["id"])["value"] == value

    await client.delete(f"/v1/readings/{posted.json()['id']}")
    assert measure_entry((await client.get(url)).json(), measure["id"])["value"] == 95

    edit = await client.patch(
        f"/v1/measures/{measure['id']}", json={"target": 190}, headers={"If-Match": '"1"'}
    )
    assert edit.status_code == 200, edit.text
    assert measure_entry((await client.get(url)).json(), measure["id"])["score"] == 50


async def test_a_score_at_a_given_instant_is_reused_until_the_data_changes(client, app):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], baseline=0, target=100)
    as_of = datetime.now(UTC) - timedelta(hours=1)
    url = f"/v1/scorecards/{scorecard['id']}/score"
    params = {"as_of": as_of.isoformat()}
    first = await client.get(url, params=params)
    assert measure_entry(first.json(), measure["id"])["value"] is None

    # A reading stored behind the service's back: it does not move the measure's data_stamp,
    # which every real write path does. A score computed now would show it; a reused one
    # cannot. So the unchanged answer proves the response was reused, not recomputed...
    async with app.state.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO readings (id, measure_id, value, observed_at) "
                "VALUES (gen_random_uuid(), :measure, 55, :at)"
            ),
            {"measure": measure["id"], "at": as_of - timedelta(minutes=2)},
        )
    assert (await client.get(url, params=params)).content == first.content
    # ...and moving the stamp, as a write does, is what makes the next request recompute.
    async with app.state.engine.begin() as connection:
        await connection.execute(
            text("UPDATE measures SET data_stamp = nextval('data_stamps') WHERE id = :id"),
            {"id": measure["id"]},
        )
    assert (
        measure_entry((await client.get(url, params=params)).json(), measure["id"])["value"] == 55
    )
    first = await client.get(url, params=params)
    # The same instant written with another offset: the same answer, as_of in UTC ("Z") too.
    other = as_of.astimezone(timezone(timedelta(hours=-7)))
    for _ in range(2):
        echoed = await client.get(url, params={"as_of": other.isoformat()})
        assert echoed.json()["as_of"].endswith("Z")
        assert echoed.content == first.content

    late = {"value": 70, "observed_at": (as_of + timedelta(minutes=1)).isoformat()}
    early = {"value": 60, "observed_at": (as_of - timedelta(minutes=1)).isoformat()}
    await client.post(f"/v1/measures/{measure['id']}/readings", json=late)
    assert (
        measure_entry((await client.get(url, params=params)).json(), measure["id"])["value"] == 55
    )  # 70 was observed after as_of
    await client.post(f"/v1/measures/{measure['id']}/readings", json=early)
    assert (
        measure_entry((await client.get(url, params=params)).json(), measure["id"])["value"] == 60
    )


def test_a_score_of_now_is_reused_for_max_age_only():
    key = (uuid.uuid4(), PeriodSelector.current)
    now_key = (key[0], key[1], None, None)
    pinned_key = (key[0], key[1], datetime(2026, 1, 1, tzinfo=UTC), timedelta(0))
    cache = ScoreCache(max_age=0.0)
    cache.put(now_key, (1, 1), b"now")
    cache.put(pinned_key, (1, 1), b"pinned")
    assert cache.get(now_key, (1, 1)) is None
    assert cache.get(pinned_key, (1, 1)) == b"pinned"
    assert cache.get(pinned_key, (1, 2)) is None
    cache = ScoreCache(max_age=60.0, max_entries=1)
    cache.put(now_key, (1, 1), b"now")
    assert cache.get(now_key, (1, 1)) == b"now"
    cache.put(pinned_key, (1, 1), b"pinned")
    assert cache.get(now_key, (1, 1)) is None  # the least recently used went


async def test_a_write_through_one_process_shows_in_another_at_once(client, clean_db):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], baseline=0, target=100)
    headers = {"Authorization": client.headers["Authorization"]}
    with running_server(clean_db, "--no-worker") as (base_url, _):
        other = httpx.Client(base_url=base_url, headers=headers)
        url = f"/v1/scorecards/{scorecard['id']}/score"
        for value in (10, 20, 30):
            assert other.get(url).status_code == 200  # fills the other process's cache
            await client.post(
                f"/v1/measures/{measure['id']}/readings",
                json={"value": value, "observed_at": datetime.now(UTC).isoformat()},
            )
            assert measure_entry(other.get(url).json(), measure["id"])["value"] == value
        other.close()
