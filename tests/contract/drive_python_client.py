"""Drives the client that openapi-python-client generated from the live document, as a user of
it would: typed models in, typed models out. Run by test_generated_client.py in a subprocess
whose PYTHONPATH holds the installed client, so its imports never reach the test process.

    python drive_python_client.py BASE_URL API_KEY multipart|multipart-refused

multipart-refused: the service refuses multipart CSV uploads (a known fault, see the test);
the driver asserts the refusal and records the CSV's lines as a batch instead.

Each step asserts the status and the parsed type; the last line printed is "driven: N steps"."""

from __future__ import annotations

import io
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from scorecard_service_client import AuthenticatedClient
from scorecard_service_client.api.measures import create_measure, get_measure
from scorecard_service_client.api.readings import (
    create_reading,
    import_readings_csv,
    list_readings,
    record_reading_batch,
)
from scorecard_service_client.api.scorecards import create_scorecard
from scorecard_service_client.api.scores import (
    get_measure_history,
    get_scorecard_history,
    get_scorecard_score,
)
from scorecard_service_client.models import (
    CsvUpload,
    IngestOut,
    MeasureCreate,
    MeasureHistoryOut,
    MeasureOut,
    Problem,
    ReadingBatch,
    ReadingBatchItem,
    ReadingCreate,
    ReadingOut,
    ReadingPage,
    ScorecardCreate,
    ScorecardHistoryOut,
    ScorecardOut,
    ScorecardScoreOut,
    ValidationProblem,
)
from scorecard_service_client.types import File, Response

STEPS: list[str] = []
T = TypeVar("T")


def expect(response: Response[Any], status: int, parsed_type: type[T], step: str) -> T:
    """The response has `status` and parsed into `parsed_type` (not just any of the union)."""
    assert response.status_code == status, (step, response.status_code, response.content[:500])
    parsed = response.parsed
    assert type(parsed) is parsed_type, (step, type(parsed), response.content[:500])
    STEPS.append(step)
    print(f"ok  {status} {parsed_type.__name__:<18} {step}")
    return parsed


def main(base_url: str, key: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=key, raise_on_unexpected_status=True)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday; each reading an hour later

    def at(hour: int) -> datetime:
        return start + timedelta(hours=hour)

    with client:
        scorecard = expect(
            create_scorecard.sync_detailed(
                client=client, body=ScorecardCreate(name="Generated client", owner="contract")
            ),
            201,
            ScorecardOut,
            "create scorecard",
        )
        assert isinstance(scorecard.id, uuid.UUID) and scorecard.name == "Generated client"
        assert scorecard.perspectives[0].key == "financial"

        measure_body = MeasureCreate(
            key="completion",
            name="Course completion",
            direction="increase",
            perspective="learning_growth",
            unit="%",
            baseline=0.0,
            target=80.0,
        )
        measure = expect(
            create_measure.sync_detailed(scorecard.id, client=client, body=measure_body),
            201,
            MeasureOut,
            "create measure",
        )
        assert measure.scorecard_id == scorecard.id and measure.direction == "increase"

        reading = expect(
            create_reading.sync_detailed(
                measure.id,
                client=client,
                body=ReadingCreate(value=40.0, observed_at=at(0), external_id="single-1"),
            ),
            201,
            ReadingOut,
            "create reading",
        )
        assert reading.value == 40.0 and reading.observed_at == at(0)
        assert reading.observed_at.tzinfo is not None

        batch = ReadingBatch(
            readings=[
                ReadingBatchItem(
                    value=50.0 + i,
                    observed_at=at(1 + i),
                    measure_id=measure.id,
                    external_id=f"b{i}",
                )
                for i in range(3)
            ]
        )
        ingested = expect(
            record_reading_batch.sync_detailed(client=client, body=batch),
            200,
            IngestOut,
            "batch of 3 readings",
        )
        assert (ingested.created, ingested.duplicates) == (3, 0)

        csv = (
            "measure_id,value,observed_at,external_id\n"
            f"{measure.id},60,{at(4).isoformat()},csv-1\n"
            f"{measure.id},70,{at(5).isoformat()},csv-2\n"
        )
        upload = CsvUpload(
            file=File(
                payload=io.BytesIO(csv.encode()), file_name="readings.csv", mime_type="text/csv"
            )
        )
        ingested = expect(
            import_readings_csv.sync_detailed(client=client, body=upload),
            200,
            IngestOut,
            "CSV upload of 2 lines (multipart)",
        )
        assert (ingested.created, ingested.duplicates) == (2, 0)

        seen: list[ReadingOut] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = expect(
                list_readings.sync_detailed(
                    measure.id, client=client, limit=2, **({"cursor": cursor} if cursor else {})
                ),
                200,
                ReadingPage,
                f"list readings, page {pages + 1}",
            )
            pages += 1
            assert len(page.items) <= 2
            seen.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert pages == 3, pages
        assert len({r.id for r in seen}) == len(seen) == 6, [r.id for r in seen]
        assert [r.observed_at for r in seen] == [at(h) for h in range(5, -1, -1)], seen
        assert [r.value for r in seen] == [70.0, 60.0, 52.0, 51.0, 50.0, 40.0]

        score = expect(
            get_scorecard_score.sync_detailed(scorecard.id, client=client, as_of=at(6)),
            200,
            ScorecardScoreOut,
            "scorecard score",
        )
        assert score.scorecard_id == scorecard.id
        assert score.status in {"green", "amber", "red", "no_data"}, score.status
        assert score.score is None or 0 <= score.score <= 100, score.score
        assert {p.key for p in score.perspectives} >= {"learning_growth"}

        history = expect(
            get_scorecard_history.sync_detailed(
                scorecard.id, client=client, from_=start - timedelta(days=7), to=at(6)
            ),
            200,
            ScorecardHistoryOut,
            "scorecard history",
        )
        assert history.scorecard_id == scorecard.id and history.entries, history
        expect(
            get_measure_history.sync_detailed(
                measure.id, client=client, from_=start - timedelta(days=7), to=at(6)
            ),
            200,
            MeasureHistoryOut,
            "measure history",
        )

        # Errors: each parses into the typed problem the document declares.
        invalid = expect(
            create_reading.sync_detailed(
                measure.id,
                client=client,
                body=ReadingCreate(value=1.0, observed_at=datetime(2026, 3, 2, 9, 0)),  # no offset
            ),
            422,
            ValidationProblem,
            "422: observed_at without an offset",
        )
        assert invalid.status == 422 and invalid.errors, invalid
        assert invalid.errors[0].loc[:2] == ["body", "observed_at"], invalid.errors
        assert isinstance(invalid.errors[0].message, str) and invalid.errors[0].message

        unknown = uuid.uuid4()
        missing = expect(
            get_measure.sync_detailed(unknown, client=client), 404, Problem, "404: unknown measure"
        )
        assert missing.status == 404 and str(unknown) in missing.detail, missing

        clash = expect(
            create_measure.sync_detailed(scorecard.id, client=client, body=measure_body),
            409,
            Problem,
            "409: a second measure with the same key",
        )
        assert clash.status == 409 and "completion" in clash.detail, clash

    stranger = AuthenticatedClient(base_url=base_url, token="sc_not-a-key")
    with stranger:
        refused = expect(
            get_measure.sync_detailed(measure.id, client=stranger),
            401,
            Problem,
            "401: a wrong token",
        )
        assert refused.status == 401 and refused.title, refused

    print(f"driven: {len(STEPS)} steps")


if __name__ == "__main__":
    main(*sys.argv[1:3])
