"""xAPI depth: several verbs per mapping, learners (subject, distinct_subjects), durations and
voiding. Black-box over HTTP; every expected number is worked out by hand in the test."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import create_measure, create_scorecard

STATEMENTS = "/xapi/statements"
V = {"X-Experience-API-Version": "1.0.3"}
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
SATISFIED = "https://w3id.org/xapi/adl/verbs/satisfied"
REGISTERED = "http://adlnet.gov/expapi/verbs/registered"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
COURSE = "https://lms.example.com/course/"


def statement(
    verb: str = COMPLETED,
    activity: str = COURSE + "101",
    actor: dict | None = None,
    **fields,
):
    return {
        "actor": actor or {"mbox": "mailto:ada@example.com", "name": "Ada"},
        "verb": {"id": verb},
        "object": {"id": activity, "objectType": "Activity"},
        **fields,
    }


def voiding(target: str, **fields):
    return {
        "actor": {"mbox": "mailto:admin@example.com"},
        "verb": {"id": VOIDED},
        "object": {"objectType": "StatementRef", "id": target},
        **fields,
    }


def learner(name: str) -> dict:
    return {"mbox": f"mailto:{name}@example.com"}


async def readings_of(client, measure_id: str) -> list[dict]:
    response = await client.get(f"/v1/measures/{measure_id}/readings", params={"limit": 200})
    assert response.status_code == 200
    return response.json()["items"]


async def value_of(client, scorecard_id: str, key: str, as_of: str) -> float | None:
    response = await client.get(f"/v1/scorecards/{scorecard_id}/score", params={"as_of": as_of})
    assert response.status_code == 200, response.text
    measures = [m for p in response.json()["perspectives"] for m in p["measures"]]
    return next(m["value"] for m in measures if m["key"] == key)


@pytest.fixture
async def lrs(client):
    client.headers.update(V)
    return client


@pytest.fixture
async def scorecard(client):
    return await create_scorecard(client)


# --- several verbs ----------------------------------------------------------------------------


async def test_a_mapping_with_several_verbs_matches_any_of_them(lrs, scorecard):
    verbs = [COMPLETED, SATISFIED, PASSED]
    measure = await create_measure(
        lrs, scorecard["id"], aggregation="count", xapi={"verb": verbs, "value": "count"}
    )
    assert measure["xapi"]["verb"] == verbs  # as sent: a list stays a list
    single = await create_measure(lrs, scorecard["id"], xapi={"verb": COMPLETED})
    assert single["xapi"]["verb"] == COMPLETED  # and one IRI stays one IRI
    fetched = await lrs.get(f"/v1/measures/{measure['id']}")
    assert fetched.json()["xapi"]["verb"] == verbs
    response = await lrs.post(
        STATEMENTS,
        json=[
            statement(COMPLETED),
            statement(SATISFIED),
            statement(PASSED),
            statement(REGISTERED),  # not one of them
        ],
    )
    assert response.status_code == 200
    assert len(await readings_of(lrs, measure["id"])) == 3
    assert len(await readings_of(lrs, single["id"])) == 1


async def test_backfill_reads_every_verb_of_the_mapping(lrs, scorecard):
    sent = await lrs.post(
        STATEMENTS, json=[statement(COMPLETED), statement(SATISFIED), statement(REGISTERED)]
    )
    assert sent.status_code == 200
    measure = await create_measure(lrs, scorecard["id"], xapi={"verb": [SATISFIED, COMPLETED]})
    response = await lrs.post(f"/v1/measures/{measure['id']}/xapi/backfill")
    assert response.json() == {"created": 2, "duplicates": 0, "skipped": 0}
    assert {r["external_id"] for r in await readings_of(lrs, measure["id"])} == set(
        sent.json()[:2]
    )


async def test_a_patch_can_switch_between_one_verb_and_several(lrs, scorecard):
    measure = await create_measure(lrs, scorecard["id"], xapi={"verb": COMPLETED})
    url = f"/v1/measures/{measure['id']}"
    patched = await lrs.patch(url, json={"xapi": {"verb": [PASSED, SATISFIED]}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["xapi"]["verb"] == [PASSED, SATISFIED]
    await lrs.post(STATEMENTS, json=[statement(COMPLETED), statement(SATISFIED)])
    [reading] = await readings_of(lrs, measure["id"])
    assert reading["value"] == 1


@pytest.mark.parametrize(
    "verb",
    [
        [],
        [COMPLETED, COMPLETED],
        [f"{COMPLETED}/{i}" for i in range(21)],
        [COMPLETED, 7],
        [COMPLETED, None],
        [COMPLETED, "bad\x00iri"],
        [COMPLETED, ""],
        [COMPLETED, "x" * 501],
        {"id": COMPLETED},
        7,
        True,
        None,
        "",
    ],
)
async def test_hostile_verb_lists_are_422(lrs, scorecard, verb):
    response = await lrs.post(
        f"/v1/scorecards/{scorecard['id']}/measures",
        json={
            "key": "k",
            "name": "N",
            "perspective": "learning_growth",
            "direction": "increase",
            "baseline": 0,
            "target": 1,
            "xapi": {"verb": verb},
        },
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_twenty_verbs_are_accepted(lrs, scorecard):
    verbs = [f"{COMPLETED}/{i}" for i in range(20)]
    measure = await create_measure(lrs, scorecard["id"], xapi={"verb": verbs})
    assert measure["xapi"]["verb"] == verbs
