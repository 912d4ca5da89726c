"""xAPI depth: several verbs per mapping, learners (subject, distinct_subjects), durations and
voiding. Black-box over HTTP; every expected number is worked out by hand in the test."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

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
    assert {r["external_id"] for r in await readings_of(lrs, measure["id"])} == set(sent.json()[:2])


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


# --- learners ---------------------------------------------------------------------------------

MARCH = "2026-03-15T12:00:00Z"


async def test_completion_rate_counts_learners_not_statements(lrs, scorecard):
    sid = scorecard["id"]
    enrolments = await create_measure(
        lrs, sid, key="enrolments", aggregation="distinct_subjects", xapi={"verb": REGISTERED}
    )
    await create_measure(
        lrs,
        sid,
        key="completions",
        aggregation="distinct_subjects",
        xapi={"verb": [COMPLETED, SATISFIED]},
    )
    await create_measure(
        lrs,
        sid,
        key="passed",
        aggregation="distinct_subjects",
        xapi={"verb": PASSED, "value": "success"},
    )
    await create_measure(
        lrs, sid, key="rate", formula="completions / enrolments * 100", baseline=0, target=100
    )
    at = "2026-03-05T09:00:00Z"
    anonymous_group = {"objectType": "Group", "member": [learner("eve")]}
    account = {"account": {"homePage": "https://lms.example.com", "name": "dee"}}
    response = await lrs.post(
        STATEMENTS,
        json=[
            # Enrolments: ada (twice), bob, cy and dee's account → 4 learners; the anonymous
            # group has no identifier and is nobody.
            statement(REGISTERED, actor=learner("ada"), timestamp=at),
            statement(REGISTERED, actor=learner("ada"), timestamp="2026-03-06T09:00:00Z"),
            statement(REGISTERED, actor=learner("bob"), timestamp=at),
            statement(REGISTERED, actor=learner("cy"), timestamp=at),
            statement(REGISTERED, actor=account, timestamp=at),
            statement(REGISTERED, actor=anonymous_group, timestamp=at),
            # Completions: ada (twice, two verbs) and bob in March → 2; cy's is February's.
            statement(COMPLETED, actor=learner("ada"), timestamp=at),
            statement(SATISFIED, actor=learner("ada"), timestamp=at),
            statement(SATISFIED, actor=learner("bob"), timestamp=at),
            statement(COMPLETED, actor=learner("cy"), timestamp="2026-02-20T09:00:00Z"),
            # Passes: ada and cy (twice) passed, bob failed → 2 learners passed.
            statement(PASSED, actor=learner("ada"), result={"success": True}, timestamp=at),
            statement(PASSED, actor=learner("bob"), result={"success": False}, timestamp=at),
            statement(PASSED, actor=learner("cy"), result={"success": True}, timestamp=at),
            statement(PASSED, actor=learner("cy"), result={"success": True}, timestamp=at),
        ],
    )
    assert response.status_code == 200, response.text
    subjects = {r["subject"] for r in await readings_of(lrs, enrolments["id"])}
    assert subjects == {
        "mailto:ada@example.com",
        "mailto:bob@example.com",
        "mailto:cy@example.com",
        "https://lms.example.com|dee",
        None,
    }
    assert len(await readings_of(lrs, enrolments["id"])) == 6
    assert await value_of(lrs, sid, "enrolments", MARCH) == 4
    assert await value_of(lrs, sid, "completions", MARCH) == 2
    assert await value_of(lrs, sid, "rate", MARCH) == 50  # 2 / 4 * 100
    assert await value_of(lrs, sid, "passed", MARCH) == 2
    assert await value_of(lrs, sid, "completions", "2026-02-25T00:00:00Z") == 1  # cy
    assert await value_of(lrs, sid, "passed", "2026-04-15T00:00:00Z") == 0  # nobody in April


@pytest.mark.parametrize(
    ("actor", "subject"),
    [
        ({"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}, None),
        ({"openid": "https://openid.example.com/ada"}, "https://openid.example.com/ada"),
        ({"objectType": "Group", "mbox": "mailto:team@example.com"}, "mailto:team@example.com"),
        ({"mbox": "mailto:" + "a" * 300 + "@example.com"}, None),  # too long for a subject
        ({"mbox": "mailto:a\x01@example.com"}, None),  # a control character
        ({"account": {"homePage": "https://lms.example.com"}}, None),  # half an account
        ({"name": "nobody"}, None),
    ],
)
async def test_the_subject_is_the_actors_identifier(lrs, scorecard, actor, subject):
    if "mbox_sha1sum" in actor:
        subject = actor["mbox_sha1sum"]
    measure = await create_measure(lrs, scorecard["id"], xapi={"verb": COMPLETED})
    response = await lrs.post(STATEMENTS, json=statement(actor=actor))
    assert response.status_code == 200, response.text
    [reading] = await readings_of(lrs, measure["id"])
    assert reading["subject"] == subject


async def test_batch_and_csv_take_a_subject(client, scorecard):
    measure = await create_measure(client, scorecard["id"], aggregation="distinct_subjects")
    at = "2026-03-05T09:00:00Z"
    batch = await client.post(
        "/v1/readings/batch",
        json={
            "readings": [
                {"measure_id": measure["id"], "value": 1, "observed_at": at, "subject": "ada"},
                {"measure_id": measure["id"], "value": 1, "observed_at": at, "subject": "bob"},
                {"measure_id": measure["id"], "value": 0, "observed_at": at, "subject": "cy"},
                {"measure_id": measure["id"], "value": 1, "observed_at": at},
            ]
        },
    )
    assert batch.status_code == 200, batch.text
    csv = (
        "measure_id,value,observed_at,subject\n"
        f"{measure['id']},2,{at},ada\n"
        f"{measure['id']},1,{at},dee\n"
        f"{measure['id']},1,{at},\n"
    )
    imported = await client.post(
        "/v1/readings/import", content=csv, headers={"Content-Type": "text/csv"}
    )
    assert imported.status_code == 200, imported.text
    readings = await readings_of(client, measure["id"])
    assert sorted(r["subject"] or "" for r in readings) == [
        "",
        "",
        "ada",
        "ada",
        "bob",
        "cy",
        "dee",
    ]
    # ada, bob and dee; cy's reading is 0 and the two without a subject are nobody.
    assert await value_of(client, scorecard["id"], measure["key"], MARCH) == 3
    one = await client.get(f"/v1/readings/{readings[0]['id']}")
    assert "subject" in one.json()


async def test_a_single_reading_takes_a_subject_and_a_retry_must_match_it(client, scorecard):
    measure = await create_measure(client, scorecard["id"])
    url = f"/v1/measures/{measure['id']}/readings"
    body = {"value": 1, "observed_at": MARCH, "external_id": "r1", "subject": "ada"}
    created = await client.post(url, json=body)
    assert created.status_code == 201
    assert created.json()["subject"] == "ada"
    assert (await client.post(url, json=body)).status_code == 200
    assert (await client.post(url, json={**body, "subject": "bob"})).status_code == 409


@pytest.mark.parametrize(
    "subject", ["x" * 201, "a\x00b", "a\x1fb", 7, 1.5, True, ["ada"], {"id": "ada"}]
)
async def test_hostile_subjects_are_422(client, scorecard, subject):
    measure = await create_measure(client, scorecard["id"])
    item = {"value": 1, "observed_at": MARCH, "subject": subject}
    single = await client.post(f"/v1/measures/{measure['id']}/readings", json=item)
    assert single.status_code == 422, single.text
    batch = await client.post(
        "/v1/readings/batch", json={"readings": [{**item, "measure_id": measure["id"]}]}
    )
    assert batch.status_code == 422
    assert batch.json()["errors"][0]["loc"] == ["body", "readings", 0, "subject"]
    assert await readings_of(client, measure["id"]) == []


@pytest.mark.parametrize("cell", ["x" * 201, "a\x01b"])
async def test_hostile_subject_cells_are_422(client, scorecard, cell):
    measure = await create_measure(client, scorecard["id"])
    csv = f"measure_id,value,observed_at,subject\n{measure['id']},1,{MARCH},{cell}\n"
    response = await client.post(
        "/v1/readings/import", content=csv, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "line", 2, "subject"]


async def test_two_hundred_characters_are_a_subject(client, scorecard):
    measure = await create_measure(client, scorecard["id"])
    body = {"value": 1, "observed_at": MARCH, "subject": "é" * 200}
    response = await client.post(f"/v1/measures/{measure['id']}/readings", json=body)
    assert response.status_code == 201
    assert response.json()["subject"] == "é" * 200


async def test_distinct_subject_crossings_are_counted_not_carried(client, app):
    """Crossing detection after each write: a repeat learner must not count twice (a count
    carried forward row by row would say 2 after ada's second reading)."""
    from tests.scores.test_crossings import crossing_events

    scorecard = await create_scorecard(client)
    measure = await create_measure(
        client, scorecard["id"], aggregation="distinct_subjects", baseline=0, target=2
    )
    url = f"/v1/measures/{measure['id']}/readings"
    now = datetime.now(UTC).isoformat()
    for subject in ("ada", "ada"):
        response = await client.post(url, json={"value": 1, "observed_at": now, "subject": subject})
        assert response.status_code == 201
    # 1 learner of 2: 50 % → red, and still red after ada's second reading.
    assert (await client.get(f"/v1/measures/{measure['id']}")).json()["status"] == "red"
    score = await client.get(f"/v1/measures/{measure['id']}/score")
    assert (score.json()["value"], score.json()["readings_in_period"]) == (1, 2)
    await client.post(url, json={"value": 1, "observed_at": now, "subject": "bob"})  # 2 → green
    events = await crossing_events(app, measure["id"])
    assert [(e["previous_status"], e["status"], e["value"]) for e in events] == [
        ("no_data", "red", 0),  # as a count, no learners yet is 0, not "no data"
        ("red", "green", 2),
    ]
    # Deleting bob's reading brings it back to one learner.
    [bob] = [r for r in await readings_of(client, measure["id"]) if r["subject"] == "bob"]
    assert (await client.delete(f"/v1/readings/{bob['id']}")).status_code == 204
    assert (await client.get(f"/v1/measures/{measure['id']}")).json()["status"] == "red"


# --- durations --------------------------------------------------------------------------------


async def test_mean_of_durations_is_the_average_time_to_complete(lrs, scorecard):
    measure = await create_measure(
        lrs,
        scorecard["id"],
        key="time",
        aggregation="mean",
        direction="decrease",
        baseline=7200,
        target=3600,
        xapi={"verb": COMPLETED, "value": "duration_seconds"},
    )
    at = "2026-03-05T09:00:00Z"
    durations = ["PT1H30M", "PT45M", "P1DT0.5S", "PT1H0M30.25S", "P1W"]
    response = await lrs.post(
        STATEMENTS, json=[statement(result={"duration": d}, timestamp=at) for d in durations[:4]]
    )
    assert response.status_code == 200, response.text
    values = sorted(r["value"] for r in await readings_of(lrs, measure["id"]))
    assert values == [2700, 3630.25, 5400, 86400.5]
    # (5400 + 2700 + 86400.5 + 3630.25) / 4 = 98130.75 / 4
    assert await value_of(lrs, scorecard["id"], "time", MARCH) == 24532.6875
    await lrs.post(STATEMENTS, json=statement(result={"duration": durations[4]}, timestamp=at))
    assert max(r["value"] for r in await readings_of(lrs, measure["id"])) == 604800


@pytest.mark.parametrize(
    "duration",
    [
        "garbage",
        "",
        "P",
        "PT",
        "-PT1H",
        "P1Y",
        "P2M",
        "P99999999Y",
        "P" + "9" * 30 + "D",
        "PT1H" + "0" * 200 + "S",
        "PT1H\x00",
        "pt1h",
        "1:30:00",
        "PT1.5.5S",
        "NaN",
        5400,
        -1,
        None,
        True,
        ["PT1H"],
        {"seconds": 1},
    ],
)
async def test_an_unreadable_duration_makes_no_reading_but_is_stored(lrs, scorecard, duration):
    measure = await create_measure(
        lrs, scorecard["id"], xapi={"verb": COMPLETED, "value": "duration_seconds"}
    )
    counter = await create_measure(lrs, scorecard["id"], xapi={"verb": COMPLETED})
    response = await lrs.post(STATEMENTS, json=statement(result={"duration": duration}))
    assert response.status_code == 200, response.text
    [statement_id] = response.json()
    stored = await lrs.get(STATEMENTS, params={"statementId": statement_id})
    assert stored.status_code == 200
    assert stored.json()["result"] == {"duration": duration}
    assert await readings_of(lrs, measure["id"]) == []
    assert len(await readings_of(lrs, counter["id"])) == 1  # other mappings still read it


async def test_a_statement_without_a_result_makes_no_duration_reading(lrs, scorecard):
    measure = await create_measure(
        lrs, scorecard["id"], xapi={"verb": COMPLETED, "value": "duration_seconds"}
    )
    assert (await lrs.post(STATEMENTS, json=statement())).status_code == 200
    assert await readings_of(lrs, measure["id"]) == []


async def test_backfill_reads_durations(lrs, scorecard):
    await lrs.post(
        STATEMENTS,
        json=[statement(result={"duration": "PT2M"}), statement(result={"duration": "soon"})],
    )
    measure = await create_measure(
        lrs, scorecard["id"], xapi={"verb": COMPLETED, "value": "duration_seconds"}
    )
    response = await lrs.post(f"/v1/measures/{measure['id']}/xapi/backfill")
    assert response.json() == {"created": 1, "duplicates": 0, "skipped": 1}
    assert [r["value"] for r in await readings_of(lrs, measure["id"])] == [120]


async def test_an_unknown_mapping_value_is_422(lrs, scorecard):
    response = await lrs.post(
        f"/v1/scorecards/{scorecard['id']}/measures",
        json={
            "key": "k",
            "name": "N",
            "perspective": "learning_growth",
            "direction": "increase",
            "baseline": 0,
            "target": 1,
            "xapi": {"verb": COMPLETED, "value": "duration_minutes"},
        },
    )
    assert response.status_code == 422


# --- voiding ----------------------------------------------------------------------------------


async def get_statement(lrs, **params):
    return await lrs.get(STATEMENTS, params=params)


async def test_voiding_deletes_the_reading_and_hides_the_statement(lrs, scorecard, app):
    from tests.scores.test_crossings import crossing_events

    measure = await create_measure(
        lrs, scorecard["id"], aggregation="count", baseline=0, target=1, xapi={"verb": COMPLETED}
    )
    now = datetime.now(UTC).isoformat()
    [target] = (await lrs.post(STATEMENTS, json=[statement(timestamp=now)])).json()
    assert len(await readings_of(lrs, measure["id"])) == 1
    assert (await lrs.get(f"/v1/measures/{measure['id']}")).json()["status"] == "green"
    response = await lrs.post(STATEMENTS, json=voiding(target))
    assert response.status_code == 200, response.text
    [voider] = response.json()
    assert await readings_of(lrs, measure["id"]) == []
    # The count drops from 1 to 0: green → red, recorded as for any delete.
    assert (await lrs.get(f"/v1/measures/{measure['id']}")).json()["status"] == "red"
    assert [(e["previous_status"], e["status"]) for e in await crossing_events(app, measure["id"])][
        -1
    ] == ("green", "red")
    assert (await get_statement(lrs, statementId=target)).status_code == 404
    voided = await get_statement(lrs, voidedStatementId=target)
    assert voided.status_code == 200
    assert voided.json()["id"] == target
    assert (await get_statement(lrs, voidedStatementId=voider)).status_code == 404
    assert (await get_statement(lrs, statementId=voider)).json()["object"]["id"] == target
    listed = [s["id"] for s in (await get_statement(lrs)).json()["statements"]]
    assert target not in listed
    assert voider in listed
    # Backfill does not bring the voided statement's reading back.
    backfill = await lrs.post(f"/v1/measures/{measure['id']}/xapi/backfill")
    assert backfill.json() == {"created": 0, "duplicates": 0, "skipped": 0}
    assert await readings_of(lrs, measure["id"]) == []
    # A repeat of the voiding statement is a no-op.
    again = await lrs.put(STATEMENTS, params={"statementId": voider}, json=voiding(target))
    assert again.status_code == 204


async def test_voiding_is_audited_with_counts(lrs, scorecard):
    await create_measure(lrs, scorecard["id"], xapi={"verb": COMPLETED})
    [target] = (await lrs.post(STATEMENTS, json=[statement()])).json()
    assert (await lrs.post(STATEMENTS, json=voiding(target))).status_code == 200
    response = await lrs.get("/v1/audit", params={"action": "xapi_statement.stored"})
    assert response.status_code == 200, response.text
    entries = response.json()["items"]
    assert entries[0]["changes"] == {
        "statements": [None, 1],
        "created": [None, 0],
        "duplicates": [None, 0],
        "voided": [None, 1],
        "deleted": [None, 1],
    }


async def test_voiding_an_unknown_id_takes_effect_when_it_arrives(lrs, scorecard):
    measure = await create_measure(lrs, scorecard["id"], xapi={"verb": COMPLETED})
    later = str(uuid.uuid4())
    assert (await lrs.post(STATEMENTS, json=voiding(later))).status_code == 200
    assert (await get_statement(lrs, voidedStatementId=later)).status_code == 404
    arrived = await lrs.put(STATEMENTS, params={"statementId": later}, json=statement())
    assert arrived.status_code == 204
    assert await readings_of(lrs, measure["id"]) == []  # stored as voided, no reading
    assert (await get_statement(lrs, statementId=later)).status_code == 404
    assert (await get_statement(lrs, voidedStatementId=later)).json()["id"] == later


async def test_a_statement_and_its_voiding_in_one_batch(lrs, scorecard):
    measure = await create_measure(lrs, scorecard["id"], xapi={"verb": COMPLETED})
    target, kept = str(uuid.uuid4()), str(uuid.uuid4())
    response = await lrs.post(
        STATEMENTS, json=[voiding(target), statement(id=target), statement(id=kept)]
    )
    assert response.status_code == 200, response.text
    assert [r["external_id"] for r in await readings_of(lrs, measure["id"])] == [kept]


async def test_a_voiding_statement_cannot_be_voided(lrs, scorecard):
    [target] = (await lrs.post(STATEMENTS, json=[statement()])).json()
    [voider] = (await lrs.post(STATEMENTS, json=voiding(target))).json()
    response = await lrs.post(STATEMENTS, json=voiding(voider))
    assert response.status_code == 400
    assert response.headers["x-experience-api-version"] == "1.0.3"
    # Nor in one batch, nor itself.
    first = str(uuid.uuid4())
    batch = [voiding(target, id=first), voiding(first)]
    assert (await lrs.post(STATEMENTS, json=batch)).status_code == 400
    itself = str(uuid.uuid4())
    assert (await lrs.post(STATEMENTS, json=voiding(itself, id=itself))).status_code == 400
    assert (await get_statement(lrs, statementId=voider)).status_code == 200  # not voided
    assert (await get_statement(lrs, statementId=first)).status_code == 404  # nothing stored


@pytest.mark.parametrize(
    "target",
    [
        {"objectType": "Activity", "id": COURSE + "1"},
        {"id": COURSE + "1"},
        {"objectType": "StatementRef", "id": "not-a-uuid"},
        {"objectType": "StatementRef", "id": 7},
        {"objectType": "StatementRef"},
        {"objectType": "Agent", "mbox": "mailto:x@example.com"},
    ],
)
async def test_a_voiding_statement_must_reference_a_statement(lrs, target):
    body = {"actor": learner("admin"), "verb": {"id": VOIDED}, "object": target}
    response = await lrs.post(STATEMENTS, json=body)
    assert response.status_code == 400, response.text


async def test_in_a_locked_period_the_reading_stays(lrs, scorecard):
    measure = await create_measure(lrs, scorecard["id"], xapi={"verb": COMPLETED})
    [target] = (
        await lrs.post(STATEMENTS, json=[statement(timestamp="2026-01-10T09:00:00Z")])
    ).json()
    locked = await lrs.patch(
        f"/v1/scorecards/{scorecard['id']}",
        json={"locked_before": "2026-02-01T00:00:00Z"},
        headers={"If-Match": f'"{scorecard["version"]}"'} if "version" in scorecard else {},
    )
    assert locked.status_code == 200, locked.text
    assert (await lrs.post(STATEMENTS, json=voiding(target))).status_code == 200
    assert [r["external_id"] for r in await readings_of(lrs, measure["id"])] == [target]
    assert (await get_statement(lrs, voidedStatementId=target)).status_code == 200


async def test_both_id_parameters_at_once_find_nothing(lrs):
    [one] = (await lrs.post(STATEMENTS, json=[statement()])).json()
    response = await get_statement(lrs, statementId=one, voidedStatementId=one)
    assert response.status_code == 404
    assert (await get_statement(lrs, voidedStatementId="nope")).status_code == 400


async def test_concurrent_voiding_and_sending_leave_no_orphan_reading(lrs, scorecard):
    import asyncio

    measure = await create_measure(lrs, scorecard["id"], xapi={"verb": COMPLETED})
    targets = [str(uuid.uuid4()) for _ in range(12)]

    async def send(i):
        target = targets[i // 2]
        body = statement(id=target) if i % 2 else voiding(target)
        response = await lrs.post(STATEMENTS, json=body)
        assert response.status_code == 200, response.text

    await asyncio.gather(*(send(i) for i in range(2 * len(targets))))
    assert await readings_of(lrs, measure["id"]) == []
    for target in targets:
        assert (await get_statement(lrs, voidedStatementId=target)).status_code == 200
