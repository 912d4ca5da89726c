"""An LMS export uploaded as CSV: same all-or-nothing semantics as the JSON batch."""

from __future__ import annotations

import pytest

from app.readings.ingest import MAX_BATCH
from tests.factories import create_measure, create_scorecard

IMPORT = "/v1/readings/import"
CSV = {"Content-Type": "text/csv; charset=utf-8"}


@pytest.fixture
async def scorecard(client):
    return await create_scorecard(client)


@pytest.fixture
async def measure(client, scorecard):
    return await create_measure(client, scorecard["id"], key="completions")


async def stored(client, measure_id: str) -> list[dict]:
    response = await client.get(f"/v1/measures/{measure_id}/readings")
    return response.json()["items"]


async def test_a_csv_export_is_imported(client, measure):
    csv = (
        "\ufeffmeasure_id,value,observed_at,external_id,source,note\n"
        f"{measure['id']},12,2026-03-01T09:00:00Z,row-1,moodle,\n"
        "\n"
        f'{measure["id"]},13.5,2026-03-02T09:00:00+01:00,row-2,,"spring, cohort B"\n'
    )
    response = await client.post(IMPORT, content=csv, headers=CSV)
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 2, "duplicates": 0}
    newest, oldest = await stored(client, measure["id"])
    assert (newest["value"], newest["source"], newest["note"]) == (13.5, None, "spring, cohort B")
    assert (oldest["value"], oldest["source"], oldest["note"]) == (12, "moodle", None)
    again = await client.post(IMPORT, content=csv, headers=CSV)
    assert again.json() == {"created": 0, "duplicates": 2}


async def test_rows_can_name_measures_by_scorecard_and_key(client, scorecard, measure):
    csv = (
        "scorecard_id,measure_key,value,observed_at\n"
        f"{scorecard['id']},completions,7,2026-03-01T09:00:00Z\n"
    )
    response = await client.post(IMPORT, content=csv, headers=CSV)
    assert response.json() == {"created": 1, "duplicates": 0}
    assert [r["value"] for r in await stored(client, measure["id"])] == [7]


async def test_bad_lines_are_named_and_nothing_is_stored(client, scorecard, measure):
    csv = (
        "measure_id,value,observed_at\n"
        f"{measure['id']},1,2026-03-01T09:00:00Z\n"
        f"{measure['id']},many,2026-03-01T09:00:00Z\n"
        f'{measure["id"]},2,"2026-03-01\n09:00:00Z"\n'  # a quoted line break: one record, 2 lines
        f"{measure['id']},3,2026-03-01T09:00:00\n"
        "00000000-0000-7000-8000-000000000000,4,2026-03-01T09:00:00Z\n"
        f"{measure['id']},5\n"
        f"{measure['id']},nan,2026-03-01T09:00:00Z\n"
    )
    response = await client.post(IMPORT, content=csv, headers=CSV)
    assert response.status_code == 422
    problem = response.json()
    assert [e["loc"] for e in problem["errors"]] == [
        ["body", "line", 3, "value"],
        ["body", "line", 4, "observed_at"],
        ["body", "line", 6, "observed_at"],
        ["body", "line", 7, "measure_id"],
        ["body", "line", 8],
        ["body", "line", 9, "value"],
    ]
    assert "6 of 7 lines are invalid (3, 4, 6, 7, 8, 9)" in problem["detail"]
    assert problem["errors"][4]["message"] == "expected 3 fields, found 2"
    assert await stored(client, measure["id"]) == []


async def test_a_conflicting_line_is_409(client, measure):
    head = "measure_id,value,observed_at,external_id\n"
    first = f"{measure['id']},1,2026-03-01T09:00:00Z,x\n"
    assert (await client.post(IMPORT, content=head + first, headers=CSV)).status_code == 200
    clash = f"{measure['id']},2,2026-03-02T09:00:00Z,y\n{measure['id']},9,2026-03-01T09:00:00Z,x\n"
    response = await client.post(IMPORT, content=head + clash, headers=CSV)
    assert response.status_code == 409
    assert response.json()["errors"][0]["loc"] == ["body", "line", 3, "external_id"]
    assert [r["value"] for r in await stored(client, measure["id"])] == [1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("\n\n", "empty file"),
        ("value,observed_at\n1,2026-03-01T09:00:00Z\n", "missing column(s): measure_id"),
        ("measure_id,value\nx,1\n", "missing column(s): observed_at"),
        ("measure_id,value,observed_at,colour\n", "unknown column(s) ['colour']"),
        ("measure_id,value,value,observed_at\n", "named twice"),
        ("scorecard_id,value,observed_at\n", "measure_id (or scorecard_id and measure_key)"),
    ],
)
async def test_an_empty_file_or_a_bad_header_is_422(client, content, message):
    response = await client.post(IMPORT, content=content, headers=CSV)
    assert response.status_code == 422
    assert message in response.json()["detail"]


async def test_a_header_without_lines_imports_nothing(client):
    response = await client.post(IMPORT, content="measure_id,value,observed_at\n", headers=CSV)
    assert response.json() == {"created": 0, "duplicates": 0}


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
async def test_other_content_types_are_415(client, measure, content_type):
    csv = f"measure_id,value,observed_at\n{measure['id']},1,2026-03-01T09:00:00Z\n"
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post(IMPORT, content=csv.encode(), headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_file_that_is_not_utf8_is_422(client):
    response = await client.post(
        IMPORT, content="measure_id,value\n\xe9".encode("latin-1"), headers=CSV
    )
    assert response.status_code == 422
    assert "UTF-8" in response.json()["detail"]


async def test_too_many_lines_is_413(client, measure):
    line = f"{measure['id']},1,2026-03-01T09:00:00Z\n"
    csv = "measure_id,value,observed_at\n" + line * (MAX_BATCH + 1)
    response = await client.post(IMPORT, content=csv, headers=CSV)
    assert response.status_code == 413
    assert await stored(client, measure["id"]) == []
