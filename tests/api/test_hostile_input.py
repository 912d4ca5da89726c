"""Hostile input, sent to every endpoint that takes it: each bad value is a 4xx problem+json
and nothing is stored or changed. The values are the classes that once reached the database
(and answered 500, or stored a row that broke the scorecard's scores for everyone): control
characters, timestamps outside [1900, 2200) or given as numbers, numbers given as booleans or
strings or beyond ±10^15, cursors the service never issued, bodies in the wrong media type."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from app.models import Base
from tests.factories import create_measure, create_scorecard

PROBLEM = "application/problem+json"
CSV = {"Content-Type": "text/csv"}
XAPI = {"X-Experience-API-Version": "1.0.3"}
WHEN = "2026-03-01T09:00:00Z"

BAD_TEXT = ["nul \x00 inside", "bell\x07", "escape\x1b[31m", "\x1f"]
BAD_TIMESTAMPS: list[Any] = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "1899-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "1700000000",
    1700000000,
    "2026-03-01T09:00:00",  # no offset
    "-infinity",
]
BAD_NUMBERS: list[Any] = [True, False, "5", "1e3", None, 1e16, -1.5e15, 1e308]


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


FORGED_CURSORS = [
    _cursor([5]),
    _cursor([None]),
    _cursor([{}]),
    _cursor([12, str(uuid.uuid4())]),
    _cursor(["0001-01-01T00:00:00+14:00", str(uuid.uuid4())]),
    _cursor(["not a uuid"]),
    _cursor("a string"),
    "%%%not-base64%%%",
]


@pytest.fixture
async def world(client) -> dict[str, Any]:
    scorecard = await create_scorecard(client)
    objective = await client.post(
        f"/v1/scorecards/{scorecard['id']}/objectives",
        json={"perspective": "customer", "name": "Happy learners"},
    )
    measure = await create_measure(client, scorecard["id"], key="completions")
    webhook = await client.post("/v1/webhooks", json={"url": "https://93.184.215.14/hook"})
    assert objective.status_code == webhook.status_code == 201, webhook.text
    reading = await client.post(
        f"/v1/measures/{measure['id']}/readings", json={"value": 1, "observed_at": WHEN}
    )
    assert reading.status_code == 201
    return {
        "scorecard": scorecard["id"],
        "objective": objective.json()["id"],
        "measure": measure["id"],
        "webhook": webhook.json()["id"],
    }


async def snapshot(app: Any) -> dict[str, tuple[int, int]]:
    """Per table: rows, and the sum of `version` where there is one (so an update shows)."""
    state = {}
    async with app.state.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            versions = "sum(version)" if "version" in table.c else "0"
            row = (
                await connection.execute(text(f"SELECT count(*), {versions} FROM {table.name}"))
            ).one()
            state[table.name] = (row[0], row[1] or 0)
    return state


def assert_problem(response: Any, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == response.status_code and body["detail"]
    if response.status_code == 422:
        assert body["errors"] and all("loc" in e and "message" in e for e in body["errors"])


def with_field(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the dotted `path` (list indexes as numbers) set to `value`."""
    copy = orjson.loads(orjson.dumps(body))
    *parents, last = path.split(".")
    node: Any = copy
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[last] = value
    return copy


# (name, method, path template, valid body, text fields, number fields, timestamp fields)
Endpoint = tuple[
    str, str, str, Callable[[dict[str, Any]], dict[str, Any]], list[str], list[str], list[str]
]

MEASURE = {
    "key": "hostile",
    "name": "M",
    "perspective": "customer",
    "direction": "increase",
    "baseline": 0,
    "target": 10,
}
ENDPOINTS: list[Endpoint] = [
    (
        "create scorecard",
        "POST",
        "/v1/scorecards",
        lambda w: {"name": "S"},
        ["name", "description", "owner", "timezone"],
        ["score_cap", "thresholds.green", "perspectives.0.weight"],
        [],
    ),
    (
        "update scorecard",
        "PATCH",
        "/v1/scorecards/{scorecard}",
        lambda w: {},
        ["name", "description", "owner", "timezone"],
        ["score_cap", "thresholds.amber"],
        [],
    ),
    (
        "create objective",
        "POST",
        "/v1/scorecards/{scorecard}/objectives",
        lambda w: {"perspective": "customer", "name": "O"},
        ["name", "description"],
        ["weight"],
        [],
    ),
    (
        "update objective",
        "PATCH",
        "/v1/objectives/{objective}",
        lambda w: {},
        ["name", "description"],
        ["weight"],
        [],
    ),
    (
        "create measure",
        "POST",
        "/v1/scorecards/{scorecard}/measures",
        lambda w: dict(MEASURE),
        ["name", "description", "unit", "owner", "formula", "xapi.verb", "key"],
        ["baseline", "target", "weight", "thresholds.green"],
        [],
    ),
    (
        "update measure",
        "PATCH",
        "/v1/measures/{measure}",
        lambda w: {},
        ["name", "description", "unit", "owner"],
        ["target", "weight"],
        [],
    ),
    (
        "create reading",
        "POST",
        "/v1/measures/{measure}/readings",
        lambda w: {"value": 5, "observed_at": WHEN},
        ["source", "external_id", "note"],
        ["value"],
        ["observed_at"],
    ),
    (
        "batch",
        "POST",
        "/v1/readings/batch",
        lambda w: {"readings": [{"measure_id": w["measure"], "value": 5, "observed_at": WHEN}]},
        ["readings.0.source", "readings.0.external_id", "readings.0.note"],
        ["readings.0.value"],
        ["readings.0.observed_at"],
    ),
    (
        "create webhook",
        "POST",
        "/v1/webhooks",
        lambda w: {"url": "https://93.184.215.14/other"},
        ["url", "description"],
        [],
        [],
    ),
    (
        "update webhook",
        "PATCH",
        "/v1/webhooks/{webhook}",
        lambda w: {},
        ["url", "description"],
        [],
        [],
    ),
    (
        "create API key",
        "POST",
        "/v1/api-keys",
        lambda w: {"name": "k", "scope": "read"},
        ["name"],
        [],
        [],
    ),
]

CASES = [
    pytest.param(endpoint, field, value, id=f"{endpoint[0]}-{field}-{value!r}")
    for endpoint in ENDPOINTS
    for fields, values in ((endpoint[4], BAD_TEXT), (endpoint[5], BAD_NUMBERS))
    for field in fields
    for value in values
    # null is a valid "clear this field" in a PATCH of an optional number
    if not (value is None and endpoint[1] == "PATCH")
] + [
    pytest.param(endpoint, field, value, id=f"{endpoint[0]}-{field}-{value!r}")
    for endpoint in ENDPOINTS
    for field in endpoint[6]
    for value in BAD_TIMESTAMPS
]


@pytest.mark.parametrize(("endpoint", "field", "value"), CASES)
async def test_a_bad_value_in_a_body_is_422_and_changes_nothing(
    app, client, world, endpoint, field, value
):
    _, method, path, valid, *_ = endpoint
    body = with_field(valid(world), field, value)
    before = await snapshot(app)
    response = await client.request(method, path.format(**world), json=body)
    assert_problem(response, 422)
    assert await snapshot(app) == before


async def test_the_valid_bodies_above_are_accepted(client, world):
    """The hostile cases differ from these in one field only: proof each case tests that field."""
    for _, method, path, valid, *_ in ENDPOINTS:
        response = await client.request(method, path.format(**world), json=valid(world))
        assert response.status_code in (200, 201), (path, response.text)


@pytest.mark.parametrize(
    "cell",
    [
        ("note", "nul \x00 inside"),
        ("source", "bell\x07"),
        ("external_id", "\x1b"),
        ("value", "true"),
        ("value", "nan"),
        ("value", "1e16"),
        ("value", "1_000"),
        ("value", "0x10"),
        ("observed_at", "0001-01-01T00:00:00+14:00"),
        ("observed_at", "9999-12-31T23:59:59-12:00"),
        ("observed_at", "1700000000"),
    ],
    ids=repr,
)
async def test_a_bad_csv_cell_is_422_naming_the_line(app, client, world, cell):
    row = {"value": "5", "observed_at": WHEN, "note": "", "source": "", "external_id": ""}
    row[cell[0]] = cell[1]
    csv = "measure_id,value,observed_at,note,source,external_id\n" + ",".join(
        [
            world["measure"],
            *(row[k] for k in ("value", "observed_at", "note", "source", "external_id")),
        ]
    )
    before = await snapshot(app)
    response = await client.post("/v1/readings/import", content=csv, headers=CSV)
    assert_problem(response, 422)
    assert response.json()["errors"][0]["loc"][:3] == ["body", "line", 2]
    assert await snapshot(app) == before


@pytest.mark.parametrize(
    "csv",
    [
        'measure_id,value,observed_at\n{m},5,"2026-03-01T09:00:00Z\n',  # unterminated quote
        'measure_id,value,observed_at\n{m},5"x",2026-03-01T09:00:00Z\n',  # stray quote
        "measure_id,value,observed_at\n\x00",
    ],
    ids=["unterminated quote", "stray quote", "NUL after the header"],
)
async def test_a_csv_that_does_not_parse_is_422(app, client, world, csv):
    before = await snapshot(app)
    response = await client.post(
        "/v1/readings/import", content=csv.format(m=world["measure"]), headers=CSV
    )
    assert_problem(response, 422)
    assert await snapshot(app) == before


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/v1/readings/batch", "text/csv", b'{"readings": []}'),
        ("/v1/readings/import", "application/json", b"measure_id,value,observed_at\n"),
        ("/v1/scorecards", "text/plain", b'{"name": "S"}'),
        ("/v1/scorecards", "application/x-www-form-urlencoded", b"name=S"),
        ("/v1/measures/{measure}/readings", "text/csv", b"value,observed_at\n1,2026-03-01"),
        ("/xapi/statements", "text/plain", b"{}"),
    ],
)
async def test_a_body_in_a_media_type_the_endpoint_does_not_take_is_415(
    app, client, world, path, content_type, body
):
    before = await snapshot(app)
    response = await client.post(
        path.format(**world), content=body, headers={"Content-Type": content_type, **XAPI}
    )
    assert_problem(response, 415)
    assert await snapshot(app) == before


QUERY_TIMESTAMPS = [
    ("/v1/scorecards/{scorecard}/score", "as_of"),
    ("/v1/scorecards/{scorecard}/map", "as_of"),
    ("/v1/measures/{measure}/score", "as_of"),
    ("/v1/scorecards/{scorecard}/history", "from"),
    ("/v1/scorecards/{scorecard}/history", "to"),
    ("/v1/measures/{measure}/history", "from"),
    ("/v1/measures/{measure}/history", "to"),
    ("/v1/measures/{measure}/readings", "from"),
    ("/v1/measures/{measure}/readings", "to"),
    ("/v1/events", "after"),
]


@pytest.mark.parametrize(
    ("path", "parameter", "value"),
    [
        (path, parameter, value)
        for path, parameter in QUERY_TIMESTAMPS
        for value in BAD_TIMESTAMPS
        if isinstance(value, str)
    ],
)
async def test_a_bad_timestamp_in_a_query_is_422(client, world, path, parameter, value):
    response = await client.get(path.format(**world), params={parameter: value})
    assert_problem(response, 422)


LISTS = [
    "/v1/scorecards",
    "/v1/scorecards/{scorecard}/objectives",
    "/v1/scorecards/{scorecard}/measures",
    "/v1/measures/{measure}/readings",
    "/v1/webhooks",
    "/v1/webhooks/{webhook}/deliveries",
    "/v1/events",
    "/v1/api-keys",
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", FORGED_CURSORS, ids=repr)
async def test_a_cursor_the_service_did_not_issue_is_422(client, world, path, cursor):
    response = await client.get(path.format(**world), params={"cursor": cursor})
    assert_problem(response, 422)


@pytest.mark.parametrize(
    ("path", "parameter"),
    [("/v1/scorecards", "q"), ("/v1/scorecards/{scorecard}/measures", "perspective")],
)
async def test_control_characters_in_a_query_filter_are_422(client, world, path, parameter):
    response = await client.get(path.format(**world), params={parameter: "a\x00b"})
    assert_problem(response, 422)


def statement(**fields: Any) -> dict[str, Any]:
    return {
        "actor": {"mbox": "mailto:ada@example.com", "name": "Ada"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": "http://lms.example.com/course/1"},
        **fields,
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"timestamp": "0001-01-01T00:00:00Z"},
        {"timestamp": "9999-12-31T23:59:59-12:00"},
        {"timestamp": 1700000000},
        {"verb": {"id": "http://adlnet.gov/expapi/verbs/\x00passed"}},
        {"object": {"id": "http://lms.example.com/\x00course"}},
    ],
    ids=repr,
)
async def test_an_xapi_statement_the_service_cannot_keep_is_400(app, client, world, bad):
    before = await snapshot(app)
    response = await client.post("/xapi/statements", json=statement(**bad), headers=XAPI)
    assert_problem(response, 400)
    assert await snapshot(app) == before


async def test_an_xapi_score_beyond_the_number_bound_is_stored_without_a_reading(client, world):
    mapping = {"verb": "http://adlnet.gov/expapi/verbs/passed", "value": "score_raw"}
    measure = await client.patch(f"/v1/measures/{world['measure']}", json={"xapi": mapping})
    assert measure.status_code == 200, measure.text
    huge = [
        statement(result={"score": {"raw": 1e308}}, timestamp=WHEN),
        statement(result={"score": {"raw": -1e300}}, timestamp=WHEN),
    ]
    response = await client.post("/xapi/statements", json=huge, headers=XAPI)
    assert response.status_code == 200, response.text
    for statement_id in response.json():
        stored = await client.get(
            "/xapi/statements", params={"statementId": statement_id}, headers=XAPI
        )
        assert stored.status_code == 200
    readings = await client.get(f"/v1/measures/{world['measure']}/readings")
    assert [r["value"] for r in readings.json()["items"]] == [1]
    score = await client.get(f"/v1/scorecards/{world['scorecard']}/score")
    assert score.status_code == 200


async def test_an_xapi_statement_with_nul_in_free_text_is_kept_as_sent(client, world):
    """xAPI asks an LRS to keep what it is sent: U+0000 in a name or a response is stored (as
    json, not jsonb) and given back as it came; only the ids kept in text columns refuse it."""
    sent = statement(actor={"mbox": "mailto:ada@example.com", "name": "Ada \x00 Lovelace"})
    response = await client.post("/xapi/statements", json=sent, headers=XAPI)
    assert response.status_code == 200, response.text
    [statement_id] = response.json()
    stored = await client.get(
        "/xapi/statements", params={"statementId": statement_id}, headers=XAPI
    )
    assert stored.json()["actor"]["name"] == "Ada \x00 Lovelace"
