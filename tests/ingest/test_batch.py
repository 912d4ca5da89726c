"""An LMS pushes readings in batches: all or nothing, idempotent through external_id."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import text

from app.auth.keys import Scope
from app.readings.ingest import MAX_BATCH
from tests.factories import create_measure, create_scorecard

BATCH = "/v1/readings/batch"


def reading(measure_id: str, value: float, day: int = 1, **fields):
    return {
        "measure_id": measure_id,
        "value": value,
        "observed_at": f"2026-03-{day:02d}T09:00:00Z",
        **fields,
    }


async def values(client, measure_id: str) -> list[float]:
    response = await client.get(f"/v1/measures/{measure_id}/readings", params={"limit": 200})
    return sorted(r["value"] for r in response.json()["items"])


@pytest.fixture
async def scorecard(client):
    return await create_scorecard(client)


@pytest.fixture
async def measure(client, scorecard):
    return await create_measure(client, scorecard["id"], key="completions", aggregation="sum")


async def test_a_batch_is_stored_and_counted(client, measure):
    items = [reading(measure["id"], day, day, external_id=f"lms-{day}") for day in range(1, 6)]
    response = await client.post(BATCH, json={"readings": items})
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 5, "duplicates": 0}
    assert await values(client, measure["id"]) == [1, 2, 3, 4, 5]


async def test_a_bad_item_in_the_middle_stores_nothing(client, measure):
    items = [reading(measure["id"], i, external_id=f"lms-{i}") for i in range(5)]
    items[2]["observed_at"] = "2026-03-01T09:00:00"  # no offset
    response = await client.post(BATCH, json={"readings": items})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert [e["loc"] for e in problem["errors"]] == [["body", "readings", 2, "observed_at"]]
    assert "nothing was stored" in problem["detail"]
    assert await values(client, measure["id"]) == []


async def test_every_bad_item_and_field_is_named(client, scorecard, measure):
    derived = await create_measure(client, scorecard["id"], key="rate", formula="completions * 2")
    items = [reading(measure["id"], i) for i in range(20)]
    items[3]["value"] = "lots"
    items[3]["note"] = "x" * 10_001
    items[7]["colour"] = "red"
    items[9]["measure_id"] = "00000000-0000-7000-8000-000000000000"
    items[11] = {
        "scorecard_id": scorecard["id"],
        "measure_key": "nope",
        "value": 1,
        "observed_at": "2026-03-01T09:00:00Z",
    }
    items[13]["measure_id"] = derived["id"]
    items[15] = {"value": 1, "observed_at": "2026-03-01T09:00:00Z"}
    del items[17]["value"]
    items[19]["value"] = 123456789  # replaced by NaN: not JSON, but some encoders send it
    body = json.dumps({"readings": items}).replace("123456789", "NaN")
    response = await client.post(BATCH, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    locations = [e["loc"] for e in response.json()["errors"]]
    assert locations == [
        ["body", "readings", 3, "value"],
        ["body", "readings", 3, "note"],
        ["body", "readings", 7, "colour"],
        ["body", "readings", 9, "measure_id"],
        ["body", "readings", 11, "measure_key"],
        ["body", "readings", 13, "measure_id"],
        ["body", "readings", 15, "measure_id"],
        ["body", "readings", 17, "value"],
        ["body", "readings", 19, "value"],
    ]
    messages = {tuple(e["loc"]): e["message"] for e in response.json()["errors"]}
    assert messages[("body", "readings", 7, "colour")] == "unknown field"
    assert "derived" in messages[("body", "readings", 13, "measure_id")]
    assert "8 of 20 readings are invalid" in response.json()["detail"]
    assert await values(client, measure["id"]) == []


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_non_finite_values_are_422(client, measure, number):
    item = json.dumps(reading(measure["id"], 123456789)).replace("123456789", number)
    body = f'{{"readings": [{item}]}}'
    response = await client.post(BATCH, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "readings", 0, "value"]


async def test_measures_can_be_named_by_scorecard_and_key(client, scorecard, measure):
    other = await create_measure(client, scorecard["id"], key="enrolments")
    response = await client.post(
        BATCH,
        json={
            "readings": [
                {
                    "scorecard_id": scorecard["id"],
                    "measure_key": "completions",
                    "value": 3,
                    "observed_at": "2026-03-01T09:00:00+02:00",
                },
                {
                    "scorecard_id": scorecard["id"],
                    "measure_key": "enrolments",
                    "value": 9,
                    "observed_at": "2026-03-01T09:00:00Z",
                    "source": "moodle",
                    "note": "cohort A",
                },
                reading(measure["id"], 4),
            ]
        },
    )
    assert response.json() == {"created": 3, "duplicates": 0}
    assert await values(client, measure["id"]) == [3, 4]
    [stored] = (await client.get(f"/v1/measures/{other['id']}/readings")).json()["items"]
    assert (stored["value"], stored["source"], stored["note"]) == (9, "moodle", "cohort A")


async def test_naming_a_measure_two_ways_or_half_a_way_is_422(client, scorecard, measure):
    response = await client.post(
        BATCH,
        json={
            "readings": [
                {
                    **reading(measure["id"], 1),
                    "scorecard_id": scorecard["id"],
                    "measure_key": "completions",
                },
                {
                    "scorecard_id": scorecard["id"],
                    "value": 1,
                    "observed_at": "2026-03-01T09:00:00Z",
                },
                {"measure_key": "completions", "value": 1, "observed_at": "2026-03-01T09:00:00Z"},
            ]
        },
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [
        ["body", "readings", 0, "measure_id"],
        ["body", "readings", 1, "measure_key"],
        ["body", "readings", 2, "scorecard_id"],
    ]


async def test_replaying_a_whole_batch_is_idempotent(client, measure):
    items = [reading(measure["id"], i, external_id=f"lms-{i}") for i in range(50)]
    first = await client.post(BATCH, json={"readings": items})
    assert first.json() == {"created": 50, "duplicates": 0}
    replay = await client.post(BATCH, json={"readings": items})
    assert replay.status_code == 200
    assert replay.json() == {"created": 0, "duplicates": 50}
    partly_new = [*items[40:], reading(measure["id"], 99, external_id="lms-99")]
    assert (await client.post(BATCH, json={"readings": partly_new})).json() == {
        "created": 1,
        "duplicates": 10,
    }
    assert len(await values(client, measure["id"])) == 51


async def test_a_conflicting_duplicate_is_409_and_stores_nothing(client, measure):
    await client.post(BATCH, json={"readings": [reading(measure["id"], 1, external_id="a")]})
    response = await client.post(
        BATCH,
        json={
            "readings": [
                reading(measure["id"], 5, external_id="new"),
                reading(measure["id"], 2, external_id="a"),  # stored with value 1
                reading(measure["id"], 6, external_id="b"),
                reading(
                    measure["id"], 7, external_id="b"
                ),  # clashes with item 2 of this very batch
            ]
        },
    )
    assert response.status_code == 409
    problem = response.json()
    assert "1, 3" in problem["detail"]
    assert [e["loc"] for e in problem["errors"]] == [
        ["body", "readings", 1, "external_id"],
        ["body", "readings", 3, "external_id"],
    ]
    assert await values(client, measure["id"]) == [1]


async def test_a_batch_over_the_limit_is_413(client, measure):
    items = [reading(measure["id"], 1)] * (MAX_BATCH + 1)
    response = await client.post(BATCH, json={"readings": items})
    assert response.status_code == 413
    assert f"{MAX_BATCH:,}" in response.json()["detail"]
    assert await values(client, measure["id"]) == []


async def test_a_full_batch_is_accepted(client, measure):
    items = [reading(measure["id"], i, external_id=str(i)) for i in range(MAX_BATCH)]
    response = await client.post(BATCH, json={"readings": items})
    assert response.json() == {"created": MAX_BATCH, "duplicates": 0}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"[1, 2]", ["body", "readings"]),
        (b'{"readings": {}}', ["body", "readings"]),
        (b'{"items": []}', ["body", "readings"]),
        (b'{"readings": [], "extra": 1}', ["body", "extra"]),
        (b'{"readings": [', ["body"]),
    ],
)
async def test_malformed_bodies_are_422(client, body, where):
    response = await client.post(BATCH, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == where


async def test_an_empty_batch_stores_nothing(client):
    response = await client.post(BATCH, json={"readings": []})
    assert response.json() == {"created": 0, "duplicates": 0}


async def test_ingest_scope_suffices_and_read_does_not(client, scoped_client, measure):
    ingester = await scoped_client(Scope.ingest)
    reader = await scoped_client(Scope.read)
    body = {"readings": [reading(measure["id"], 1)]}
    assert (await ingester.post(BATCH, json=body)).status_code == 200
    assert (await reader.post(BATCH, json=body)).status_code == 403


async def test_concurrent_pushes_of_one_batch_store_it_once(client, measure, sessionmaker):
    # Two LMS workers retrying the same batch at once: the measure lock orders them, the
    # second finds every external_id stored.
    items = [reading(measure["id"], i, external_id=f"lms-{i}") for i in range(2_000)]
    first, second = await asyncio.gather(
        client.post(BATCH, json={"readings": items}), client.post(BATCH, json={"readings": items})
    )
    outcomes = sorted([first.json(), second.json()], key=lambda outcome: outcome["created"])
    assert outcomes == [{"created": 0, "duplicates": 2_000}, {"created": 2_000, "duplicates": 0}]
    async with sessionmaker() as session:
        stored = await session.scalar(
            text("SELECT count(*) FROM readings WHERE measure_id = :id"), {"id": measure["id"]}
        )
    assert stored == 2_000
