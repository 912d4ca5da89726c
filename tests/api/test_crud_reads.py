"""The CRUD reads (served from the read pool, `app/*/queries.py`): byte for byte what the
response models made of the ORM rows, ETags, filters, and keyset pagination with the same
cursors as the ORM's `paginate`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter

from app.auth.keys import Scope
from app.core.pagination import encode_cursor
from app.core.schemas import Page
from app.measures.schemas import MeasureOut
from app.readings.models import Reading
from app.readings.schemas import ReadingOut
from app.scorecards.models import Measure, Objective, Scorecard
from app.scorecards.schemas import ObjectiveOut, ScorecardOut
from tests.factories import create_measure, create_scorecard


def as_before(model: type[BaseModel], row: Any) -> bytes:
    """What the endpoint answered before: FastAPI serialised the response model this way."""
    return TypeAdapter(model).dump_json(model.model_validate(row), by_alias=True)


@pytest.fixture
async def world(client):
    scorecard = await create_scorecard(
        client,
        name="Onboarding_100%",
        owner="L&D",
        timezone="Europe/Berlin",
        thresholds={"green": 85, "amber": 60.5},
        score_cap=120,
        perspectives=[{"key": "financial", "name": "Money €", "weight": 2}],
        locked_before="2020-01-01T01:00:00.25+01:00",
        commentary_required_for=["red", "amber"],
    )
    objective = (
        await client.post(
            f"/v1/scorecards/{scorecard['id']}/objectives",
            json={"perspective": "financial", "name": "Cheaper", "weight": 3},
        )
    ).json()
    rich = await create_measure(
        client,
        scorecard["id"],
        objective_id=objective["id"],
        perspective="financial",
        description='ünïcode "quoted" \\ and\nnewline',
        unit="%",
        thresholds={"green": 95, "amber": 80},
        xapi={"verb": "http://adlnet.gov/expapi/verbs/completed"},
        level="learning",
        weight=0.1,
        baseline=1e-7,
        target=1e15,
        due_after_days=7,
        targets=[
            {"from": "2026-07-01T00:00:00.5+02:00", "target": 5e14},
            {"from": "2026-09-01T00:00:00Z", "baseline": 2, "thresholds": {"green": 95.5}},
        ],
    )
    plain = await create_measure(
        client,
        scorecard["id"],
        perspective="financial",
        xapi={
            "verb": [
                "http://adlnet.gov/expapi/verbs/completed",
                "https://w3id.org/xapi/adl/verbs/satisfied",
            ],
            "value": "duration_seconds",
        },
    )
    observed = datetime(2026, 3, 1, 9, 0, 0, 123400, tzinfo=UTC)
    readings = []
    for n in range(5):  # two pairs observed at the same instant: ties broken by id
        at = observed - timedelta(days=n // 2)
        response = await client.post(
            f"/v1/measures/{rich['id']}/readings",
            json={
                "value": n * 1.5,
                "observed_at": at.isoformat(),
                "source": "lms",
                "external_id": f"x-{n}",
                "note": "n" if n else None,
                "subject": f"mailto:learner-{n}@example.com" if n % 2 else None,
            },
        )
        assert response.status_code == 201, response.text
        readings.append(response.json())
    return {
        "scorecard": scorecard,
        "objective": objective,
        "measures": [rich, plain],
        "readings": readings,
    }


async def orm(sessionmaker, model, row_id):
    async with sessionmaker() as session:
        return await session.get(model, uuid.UUID(row_id))


@pytest.mark.parametrize(
    ("path", "model", "out", "key", "versioned"),
    [
        ("/v1/scorecards/{}", Scorecard, ScorecardOut, "scorecard", True),
        ("/v1/objectives/{}", Objective, ObjectiveOut, "objective", True),
        ("/v1/measures/{}", Measure, MeasureOut, "measures", True),
        ("/v1/readings/{}", Reading, ReadingOut, "readings", False),
    ],
)
async def test_single_get_is_byte_identical_with_etag(
    client, sessionmaker, world, path, model, out, key, versioned
):
    found = world[key] if isinstance(world[key], dict) else world[key][0]
    response = await client.get(path.format(found["id"]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    row = await orm(sessionmaker, model, found["id"])
    assert response.content == as_before(out, row)
    if versioned:
        assert response.headers["etag"] == f'"{row.version}"'
    missing = await client.get(path.format(uuid.uuid4()))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_timestamps_are_utc_with_z(client, world):
    reading = (await client.get(f"/v1/readings/{world['readings'][0]['id']}")).json()
    assert reading["observed_at"] == "2026-03-01T09:00:00.123400Z"
    assert reading["created_at"].endswith("Z")


@pytest.mark.parametrize(
    ("value", "observed_at"),
    [
        (-0.0, "2026-03-01T09:00:00Z"),  # whole seconds: no fraction written
        (1e-05, "2026-03-01T09:00:00.000001Z"),
        (-8.5e-05, "2026-03-01T09:00:00.5Z"),
        (1.5e-10, "2026-03-01T09:00:00+02:00"),
        (0.1 + 0.2, "2020-06-01T00:00:00Z"),
        (1 / 3, "2199-12-31T23:59:59.999999Z"),
        (1e15, "2026-03-01T09:00:00Z"),
        (-999999999999999.9, "2026-03-01T09:00:00Z"),
        (4503599627370.5, "2026-03-01T09:00:00Z"),
    ],
)
async def test_numbers_and_instants_read_as_the_models_write_them(
    client, sessionmaker, world, value, observed_at
):
    """The statements write JSON in PostgreSQL; every notation matches pydantic's."""
    measure_id = world["measures"][1]["id"]
    created = await client.post(
        f"/v1/measures/{measure_id}/readings", json={"value": value, "observed_at": observed_at}
    )
    assert created.status_code == 201, created.text
    response = await client.get(f"/v1/readings/{created.json()['id']}")
    row = await orm(sessionmaker, Reading, created.json()["id"])
    assert response.content == as_before(ReadingOut, row)
    assert response.json() == created.json()


async def test_etag_follows_the_version(client, world):
    measure = world["measures"][1]
    patched = await client.patch(f"/v1/measures/{measure['id']}", json={"name": "Renamed"})
    assert patched.status_code == 200
    got = await client.get(f"/v1/measures/{measure['id']}")
    assert got.headers["etag"] == patched.headers["etag"] == '"2"'


async def pages(client, path: str, limit: int, **params: Any) -> tuple[list[dict], list[str]]:
    items, cursors, cursor = [], [], None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert list(page) == ["items", "next_cursor"]
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, cursors
        cursors.append(cursor)


async def test_readings_pages_newest_first_across_ties(client, sessionmaker, world):
    measure_id = world["measures"][0]["id"]
    items, cursors = await pages(client, f"/v1/measures/{measure_id}/readings", 2)
    async with sessionmaker() as session:
        from sqlalchemy import select

        rows = (
            await session.scalars(
                select(Reading)
                .where(Reading.measure_id == uuid.UUID(measure_id))
                .order_by(Reading.observed_at.desc(), Reading.id.desc())
            )
        ).all()
    assert [i["id"] for i in items] == [str(r.id) for r in rows]
    # The same cursors as the ORM's paginate issued: the last row of each full page.
    assert cursors == [encode_cursor([rows[i].observed_at, rows[i].id]) for i in (1, 3)]
    body = TypeAdapter(Page[ReadingOut]).dump_json(
        Page[ReadingOut](items=[ReadingOut.model_validate(r) for r in rows[:2]], next_cursor=None)
    )
    first = await client.get(f"/v1/measures/{measure_id}/readings", params={"limit": 2})
    assert first.content.replace(f'"{cursors[0]}"'.encode(), b"null") == body


async def test_readings_range_filter(client, world):
    measure_id = world["measures"][0]["id"]
    items, _ = await pages(
        client,
        f"/v1/measures/{measure_id}/readings",
        1,
        **{"from": "2026-02-28T09:00:00.123400Z", "to": "2026-03-01T09:00:00.123400Z"},
    )
    assert [i["external_id"] for i in items] == ["x-3", "x-2"]  # same instant: newer id first
    assert all(i["observed_at"] == "2026-02-28T09:00:00.123400Z" for i in items)


async def test_measure_list_filters_and_pages(client, sessionmaker, world):
    scorecard_id = world["scorecard"]["id"]
    path = f"/v1/scorecards/{scorecard_id}/measures"
    more = [await create_measure(client, scorecard_id, perspective="financial") for _ in range(3)]
    items, cursors = await pages(client, path, 2)
    expected = sorted([*world["measures"], *more], key=lambda m: m["id"])
    assert [i["id"] for i in items] == [m["id"] for m in expected]
    assert cursors == [encode_cursor([uuid.UUID(expected[i]["id"])]) for i in (1, 3)]
    rich = world["measures"][0]
    for params in (
        {"objective_id": world["objective"]["id"]},
        {"level": "learning"},
        {"perspective": "financial", "level": "learning"},
    ):
        found, _ = await pages(client, path, 1, **params)
        assert [i["id"] for i in found] == [rich["id"]]
    found, _ = await pages(client, path, 50, level="roi")
    assert found == []
    first = (await client.get(path, params={"limit": 1, "level": "learning"})).content
    row = await orm(sessionmaker, Measure, rich["id"])
    assert first == TypeAdapter(Page[MeasureOut]).dump_json(
        Page[MeasureOut](items=[MeasureOut.model_validate(row)], next_cursor=None), by_alias=True
    )


async def test_scorecard_list_q_and_pages(client, sessionmaker, world):
    for name in ("Sales 2026", "Onboarding 100", "onboarding_100% again"):
        await create_scorecard(client, name=name)
    items, cursors = await pages(client, "/v1/scorecards", 2)
    assert [i["id"] for i in items] == sorted(i["id"] for i in items)
    assert len(items) == 4 and len(cursors) == 1
    # `_` and `%` in q are literal characters, not wildcards; matching ignores case.
    found, _ = await pages(client, "/v1/scorecards", 50, q="ONBOARDING_100%")
    assert sorted(i["name"] for i in found) == ["Onboarding_100%", "onboarding_100% again"]
    one = (await client.get("/v1/scorecards", params={"q": "Money"})).json()
    assert one == {"items": [], "next_cursor": None}
    row = await orm(sessionmaker, Scorecard, world["scorecard"]["id"])
    listed = await client.get("/v1/scorecards", params={"q": "Onboarding_100%", "limit": 1})
    assert listed.content.startswith(b'{"items":[' + as_before(ScorecardOut, row))


async def test_objective_list_pages(client, world):
    scorecard_id = world["scorecard"]["id"]
    path = f"/v1/scorecards/{scorecard_id}/objectives"
    for n in range(2):
        response = await client.post(path, json={"perspective": "financial", "name": f"O{n}"})
        assert response.status_code == 201
    items, cursors = await pages(client, path, 2)
    assert len(items) == 3 and len(cursors) == 1
    assert [i["id"] for i in items] == sorted(i["id"] for i in items)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/scorecards/{}/measures",
        "/v1/scorecards/{}/objectives",
        "/v1/measures/{}/readings",
    ],
)
async def test_list_of_a_missing_parent_is_404_and_bad_cursors_422(client, world, path):
    missing = await client.get(path.format(uuid.uuid4()))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    parent = world["measures"][0]["id"] if "readings" in path else world["scorecard"]["id"]
    for cursor in ("garbage", encode_cursor(["not-a-uuid"]), encode_cursor(["a", "b", "c"])):
        bad = await client.get(path.format(parent), params={"cursor": cursor})
        assert bad.status_code == 422, (cursor, bad.text)
    empty = await client.get(path.format(parent), params={"cursor": ""})
    assert empty.status_code == 200


def _hot_read_paths(world: dict[str, Any], missing: str) -> list[str]:
    scorecard, measure = world["scorecard"]["id"], world["measures"][0]["id"]
    return [
        f"/v1/scorecards/{scorecard}",
        "/v1/scorecards",
        f"/v1/objectives/{world['objective']['id']}",
        f"/v1/scorecards/{scorecard}/objectives",
        f"/v1/measures/{measure}",
        f"/v1/scorecards/{scorecard}/measures",
        f"/v1/readings/{world['readings'][0]['id']}",
        f"/v1/measures/{measure}/readings",
        # nothing there: the key is judged before anything about the rows is said
        f"/v1/measures/{missing}",
        f"/v1/measures/{missing}/readings",
    ]


async def test_the_key_is_checked_by_the_same_statement(app, client, scoped_client, world):
    """The hot reads look the key up in the statement that reads the rows: every outcome of
    the key check holds there as on every other endpoint, found rows or not."""
    missing = str(uuid.uuid4())
    anon = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    reader, ingester = await scoped_client(Scope.read), await scoped_client(Scope.ingest)
    revoked_key = await client.post("/v1/api-keys", json={"name": "gone", "scope": "admin"})
    revoked = {"Authorization": f"Bearer {revoked_key.json()['key']}"}
    assert (await client.delete(f"/v1/api-keys/{revoked_key.json()['id']}")).status_code == 204
    for path in _hot_read_paths(world, missing):
        expected = 404 if missing in path else 200
        assert (await reader.get(path)).status_code == expected, path
        assert (await anon.get(path)).status_code == 401, path
        unknown = await anon.get(path, headers={"Authorization": "Bearer sc_unknown"})
        assert unknown.status_code == 401, path
        assert unknown.json()["detail"] == "unknown or revoked API key"
        assert (await anon.get(path, headers=revoked)).status_code == 401, path
        forbidden = await ingester.get(path)
        assert forbidden.status_code == 403, path
        assert forbidden.headers["content-type"] == "application/problem+json"
        assert "needs 'read'" in forbidden.json()["detail"]
    await anon.aclose()
