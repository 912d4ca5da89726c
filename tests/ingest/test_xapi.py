"""An LMS's xAPI plugin points at /xapi: statements are stored, and mapped ones become readings."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from app.auth.keys import Scope
from tests.factories import create_measure, create_scorecard

STATEMENTS = "/xapi/statements"
V = {"X-Experience-API-Version": "1.0.3"}
JSON = {"Content-Type": "application/json"}
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
COURSE = "https://lms.example.com/course/"


def statement(verb: str = COMPLETED, activity: str = COURSE + "101", **fields):
    return {
        "actor": {"mbox": "mailto:ada@example.com", "name": "Ada"},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {"id": activity, "objectType": "Activity"},
        **fields,
    }


async def readings_of(client, measure_id: str) -> list[dict]:
    response = await client.get(f"/v1/measures/{measure_id}/readings", params={"limit": 200})
    assert response.status_code == 200
    return response.json()["items"]


@pytest.fixture
async def lrs(client):
    """The admin client, speaking xAPI 1.0.3."""
    client.headers.update(V)
    return client


@pytest.fixture
async def scorecard(client):
    return await create_scorecard(client)


# --- the LRS ----------------------------------------------------------------------------------


async def test_about_names_the_version(lrs):
    response = await lrs.get("/xapi/about")
    assert response.status_code == 200
    assert response.json() == {"version": ["1.0.3"]}
    assert response.headers["x-experience-api-version"] == "1.0.3"


@pytest.mark.parametrize("version", [None, "", "1.1.0", "2.0.0", "0.95", "1.0.3.1", "banana"])
async def test_a_missing_or_unsupported_version_header_is_400(client, version):
    headers = {} if version is None else {"X-Experience-API-Version": version}
    response = await client.post(STATEMENTS, json=statement(), headers=headers)
    assert response.status_code == 400
    assert response.headers["x-experience-api-version"] == "1.0.3"
    assert (await client.get(STATEMENTS, headers=V)).json()["statements"] == []


@pytest.mark.parametrize("version", ["1.0.0", "1.0.3", "1.0"])
async def test_any_1_0_x_version_is_accepted(client, version):
    response = await client.post(
        STATEMENTS, json=statement(), headers={"X-Experience-API-Version": version}
    )
    assert response.status_code == 200


async def test_errors_carry_the_version_header_too(app, lrs):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as stranger:
        unauthenticated = await stranger.get("/xapi/about", headers=V)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["x-experience-api-version"] == "1.0.3"
    for response, status in [
        (await lrs.get(STATEMENTS, params={"statementId": str(uuid.uuid4())}), 404),
        (await lrs.get("/xapi/activities/state"), 404),
        (await lrs.delete(STATEMENTS), 405),
        (await lrs.post(STATEMENTS, content=b"{not json", headers=JSON), 400),
    ]:
        assert response.status_code == status
        assert response.headers["x-experience-api-version"] == "1.0.3"
    assert "x-experience-api-version" not in (await lrs.get("/healthz")).headers


async def test_post_fills_in_id_timestamp_and_stored(lrs):
    response = await lrs.post(STATEMENTS, json=statement())
    assert response.status_code == 200
    [statement_id] = response.json()
    uuid.UUID(statement_id)
    stored = (await lrs.get(STATEMENTS, params={"statementId": statement_id})).json()
    assert stored["id"] == statement_id
    assert stored["stored"].endswith("Z")
    assert stored["timestamp"] == stored["stored"]
    assert stored["verb"]["id"] == COMPLETED
    assert stored["version"] == "1.0.0"


async def test_a_batch_answers_ids_in_order_and_keeps_given_ones(lrs):
    given = str(uuid.uuid4())
    batch = [statement(), statement(id=given, timestamp="2026-03-01T09:00:00+02:00")]
    response = await lrs.post(STATEMENTS, json=batch)
    assert response.status_code == 200
    ids = response.json()
    assert len(ids) == 2
    assert ids[1] == given
    stored = (await lrs.get(STATEMENTS, params={"statementId": given})).json()
    assert stored["timestamp"] == "2026-03-01T09:00:00+02:00"  # as received


async def test_the_same_id_again_is_a_no_op_and_different_content_is_409(lrs):
    given = str(uuid.uuid4())
    first = statement(id=given, timestamp="2026-03-01T09:00:00Z")
    assert (await lrs.post(STATEMENTS, json=first)).status_code == 200
    # Same content: also when the LRS-assigned properties differ or the timestamp is
    # serialised in another zone.
    again = {
        **first,
        "timestamp": "2026-03-01T10:00:00+01:00",
        "stored": "2030-01-01T00:00:00Z",
        "version": "1.0.3",
    }
    assert (await lrs.post(STATEMENTS, json=[again])).json() == [given]
    assert (await lrs.put(STATEMENTS, params={"statementId": given}, json=first)).status_code == 204
    changed = statement(id=given, activity=COURSE + "102", timestamp="2026-03-01T09:00:00Z")
    response = await lrs.post(STATEMENTS, json=[statement(), changed])
    assert response.status_code == 409
    assert given in response.json()["detail"]
    listed = (await lrs.get(STATEMENTS)).json()["statements"]
    assert [s["id"] for s in listed] == [given]  # the other statement was not stored either


async def test_one_id_twice_in_a_batch_is_400(lrs):
    given = str(uuid.uuid4())
    response = await lrs.post(STATEMENTS, json=[statement(id=given), statement(id=given)])
    assert response.status_code == 400
    assert given in response.json()["detail"]
    assert (await lrs.get(STATEMENTS)).json()["statements"] == []


async def test_put_stores_under_the_given_id(lrs):
    given = str(uuid.uuid4())
    response = await lrs.put(STATEMENTS, params={"statementId": given}, json=statement())
    assert response.status_code == 204
    assert response.content == b""
    fetched = await lrs.get(STATEMENTS, params={"statementId": given})
    assert fetched.status_code == 200
    assert fetched.json()["id"] == given
    assert "x-experience-api-consistent-through" in fetched.headers
    other = str(uuid.uuid4())
    mismatch = await lrs.put(STATEMENTS, params={"statementId": given}, json=statement(id=other))
    assert mismatch.status_code == 400
    assert (await lrs.put(STATEMENTS, json=statement())).status_code == 400
    assert (
        await lrs.put(STATEMENTS, params={"statementId": "nope"}, json=statement())
    ).status_code == 400


@pytest.mark.parametrize(
    "bad",
    [
        "just a string",
        {"verb": {"id": COMPLETED}, "object": {"id": COURSE}},  # no actor
        statement(verb=""),
        {**statement(), "verb": {"display": {"en-US": "did"}}},
        {**statement(), "object": {"objectType": "Activity"}},
        {**statement(), "object": {"id": COURSE, "objectType": "Planet"}},
        statement(id="not-a-uuid"),
        statement(timestamp="last tuesday"),
        statement(result={"score": {"scaled": 1.5}}),
        statement(result={"score": {"raw": "ten"}}),
        statement(result={"success": "yes"}),
        {**statement(), "result": None},  # may be left out, never null
        {**statement(), "timestamp": None},
        statement(version="2.0.0"),
        {**statement(), "mood": "happy"},
        statement(verb="http://adlnet.gov/expapi/verbs/\u0000completed"),
    ],
)
async def test_statements_without_the_minimal_shape_are_400(lrs, bad):
    response = await lrs.post(STATEMENTS, json=[statement(), bad])
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("statement 1")
    assert (await lrs.get(STATEMENTS)).json()["statements"] == []


async def test_agents_can_be_objects(lrs):
    mentored = statement(verb="http://id.tincanapi.com/verb/mentored")
    mentored["object"] = {"objectType": "Agent", "mbox": "mailto:ben@example.com"}
    assert (await lrs.post(STATEMENTS, json=mentored)).status_code == 200


async def test_the_list_pages_with_more(lrs):
    ids = (await lrs.post(STATEMENTS, json=[statement() for _ in range(5)])).json()
    first = (await lrs.get(STATEMENTS, params={"limit": 3})).json()
    assert len(first["statements"]) == 3
    assert first["more"].startswith("/xapi/statements?")
    rest = (await lrs.get(first["more"])).json()
    assert rest["more"] == ""
    assert {s["id"] for s in first["statements"] + rest["statements"]} == set(ids)
    only = (await lrs.get(STATEMENTS, params={"verb": PASSED})).json()
    assert only["statements"] == []
    assert (await lrs.get(STATEMENTS, params={"agent": "{}"})).status_code == 400


async def test_basic_auth_with_the_key_as_password_and_ingest_scope(app, sessionmaker, anon):
    from tests.conftest import make_key

    key = await make_key(sessionmaker, Scope.ingest)
    basic = "Basic " + base64.b64encode(f"moodle:{key}".encode()).decode()
    response = await anon.post(STATEMENTS, json=statement(), headers={**V, "Authorization": basic})
    assert response.status_code == 200
    wrong = "Basic " + base64.b64encode(b"moodle:sc_wrong").decode()
    assert (
        await anon.post(STATEMENTS, json=statement(), headers={**V, "Authorization": wrong})
    ).status_code == 401
    reader = "Bearer " + await make_key(sessionmaker, Scope.read)
    assert (
        await anon.post(STATEMENTS, json=statement(), headers={**V, "Authorization": reader})
    ).status_code == 403


# --- mappings -------------------------------------------------------------------------------


async def test_mapped_statements_become_readings(lrs, scorecard):
    completions = await create_measure(
        lrs,
        scorecard["id"],
        key="completions",
        aggregation="count",
        xapi={"verb": COMPLETED, "activity_id_prefix": COURSE, "value": "count"},
    )
    scores = await create_measure(
        lrs,
        scorecard["id"],
        key="score",
        aggregation="mean",
        xapi={"verb": PASSED, "value": "score_scaled"},
    )
    raw = await create_measure(
        lrs, scorecard["id"], key="raw", xapi={"verb": PASSED, "value": "score_raw"}
    )
    passes = await create_measure(
        lrs, scorecard["id"], key="passes", xapi={"verb": PASSED, "value": "success"}
    )
    given = str(uuid.uuid4())
    response = await lrs.post(
        STATEMENTS,
        json=[
            statement(id=given, timestamp="2026-03-01T09:00:00Z"),
            statement(activity="https://elsewhere.example.com/course/1"),  # prefix does not match
            statement(
                PASSED,
                result={"score": {"scaled": 0.8, "raw": 80}, "success": True},
                timestamp="2026-03-02T09:00:00Z",
            ),
            statement(PASSED, result={"success": False}, timestamp="2026-03-03T09:00:00Z"),
            statement("http://adlnet.gov/expapi/verbs/attempted"),  # no mapping
        ],
    )
    assert response.status_code == 200
    [completion] = await readings_of(lrs, completions["id"])
    assert (completion["value"], completion["external_id"]) == (1, given)
    assert completion["observed_at"] in ("2026-03-01T09:00:00Z", "2026-03-01T09:00:00+00:00")
    assert completion["source"] == "xapi"
    assert [r["value"] for r in await readings_of(lrs, scores["id"])] == [0.8]
    assert [r["value"] for r in await readings_of(lrs, raw["id"])] == [80]
    assert [r["value"] for r in await readings_of(lrs, passes["id"])] == [0, 1]  # newest first
    # A repeat of a stored statement is a no-op: no second reading.
    await lrs.put(
        STATEMENTS, params={"statementId": given}, json=statement(timestamp="2026-03-01T09:00:00Z")
    )
    assert len(await readings_of(lrs, completions["id"])) == 1


async def test_a_new_mapping_reads_history_only_when_backfilled(lrs, scorecard, scoped_client):
    old = (
        await lrs.post(
            STATEMENTS,
            json=[
                statement(
                    PASSED, result={"score": {"scaled": 0.5}}, timestamp="2026-03-01T09:00:00Z"
                ),
                statement(
                    PASSED, result={"score": {"scaled": 0.9}}, timestamp="2026-03-02T09:00:00Z"
                ),
                statement(PASSED, result={"success": True}),  # no score: skipped
                statement(COMPLETED),
            ],
        )
    ).json()
    measure = await create_measure(
        lrs,
        scorecard["id"],
        key="score",
        aggregation="mean",
        xapi={"verb": PASSED, "value": "score_scaled"},
    )
    assert await readings_of(lrs, measure["id"]) == []
    url = f"/v1/measures/{measure['id']}/xapi/backfill"
    ingester = await scoped_client(Scope.ingest)
    assert (await ingester.post(url)).status_code == 403  # backfill needs write
    response = await lrs.post(url)
    assert response.status_code == 200
    assert response.json() == {"created": 2, "duplicates": 0, "skipped": 1}
    readings = await readings_of(lrs, measure["id"])
    assert sorted(r["value"] for r in readings) == [0.5, 0.9]
    assert {r["external_id"] for r in readings} == set(old[:2])
    assert (await lrs.post(url)).json() == {"created": 0, "duplicates": 2, "skipped": 1}


async def test_backfill_needs_a_mapping(lrs, scorecard):
    measure = await create_measure(lrs, scorecard["id"])
    assert (await lrs.post(f"/v1/measures/{measure['id']}/xapi/backfill")).status_code == 409
    missing = f"/v1/measures/{uuid.uuid4()}/xapi/backfill"
    assert (await lrs.post(missing)).status_code == 404
