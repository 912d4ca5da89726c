"""HTTP for readings of one measure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.dependencies import ListConnection, ReadConnection, require
from app.auth.keys import Scope
from app.core.database import SessionDep
from app.core.errors import NotFound
from app.core.http import Route, operation_id
from app.core.pagination import Cursor, Limit
from app.core.reads import bodies_page, body_response, page_response
from app.core.schemas import PRINTABLE, Timestamp
from app.readings import due, queries, service
from app.readings.schemas import DueReadingPage, ReadingCreate, ReadingOut, ReadingPage

router = APIRouter(route_class=Route, tags=["readings"])
# The hot reads: the app's own routes, matched before every other one (app.main).
reads = APIRouter(route_class=Route, tags=["readings"], generate_unique_id_function=operation_id)


@router.post(
    "/v1/measures/{measure_id}/readings",
    status_code=201,
    dependencies=[Depends(require(Scope.ingest))],
    summary="Record a reading",
    responses={
        200: {
            "model": ReadingOut,
            "description": "A retry: same external_id and content as a stored reading",
        },
        409: {
            "description": "The external_id is stored with other content, the measure is "
            "derived, or the reading is observed before its scorecard's locked_before"
        },
    },
)
async def create_reading(
    measure_id: uuid.UUID, body: ReadingCreate, session: SessionDep, response: Response
) -> ReadingOut:
    reading, created = await service.create_reading(
        session, service.NewReading(measure_id=measure_id, **body.model_dump())
    )
    if created:
        response.headers["Location"] = f"/v1/readings/{reading['id']}"
    else:
        response.status_code = 200
    return ReadingOut.model_validate(dict(reading))


@reads.get(
    "/v1/measures/{measure_id}/readings",
    summary="List a measure's readings, newest first",
    response_model=ReadingPage,
)
async def list_readings(
    measure_id: uuid.UUID,
    connection: ListConnection,
    from_: Annotated[
        Timestamp | None, Query(alias="from", description="observed_at ≥ from")
    ] = None,
    to: Annotated[Timestamp | None, Query(description="observed_at < to")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    page = await queries.list_readings(
        connection, measure_id, start=from_, end=to, limit=limit, cursor=cursor
    )
    if page is None:
        raise NotFound(f"measure {measure_id} not found")
    return bodies_page(*page)


# Before /v1/readings/{reading_id}, whatever that path's parameter accepts.
@router.get(
    "/v1/readings/due",
    dependencies=[Depends(require(Scope.read))],
    summary="Readings owed: scheduled measures whose last ended period has no reading",
    response_model=DueReadingPage,
)
async def list_due_readings(
    request: Request,
    scorecard_id: uuid.UUID | None = None,
    owner: Annotated[
        str | None, Query(max_length=200, pattern=PRINTABLE, description="The measure's owner.")
    ] = None,
    state: Literal["due", "overdue"] | None = None,
    as_of: Annotated[Timestamp | None, Query(description="Default: now.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    page = await request.app.state.reads.run(
        request,
        lambda connection: due.list_due(
            connection,
            as_of or datetime.now(UTC),
            filters={"scorecard_id": scorecard_id, "owner": owner, "state": state},
            limit=limit,
            cursor=cursor,
        ),
    )
    return page_response(*page)


@reads.get(
    "/v1/readings/{reading_id:uuid}",
    summary="Get a reading",
    response_model=ReadingOut,
)
async def get_reading(reading_id: uuid.UUID, connection: ReadConnection) -> Response:
    reading = await queries.get_reading(connection, reading_id)
    if reading is None:
        raise NotFound(f"reading {reading_id} not found")
    return body_response(reading)


@router.delete(
    "/v1/readings/{reading_id:uuid}",
    status_code=204,
    dependencies=[Depends(require(Scope.write))],
    summary="Delete a reading",
    responses={409: {"description": "It is observed before its scorecard's locked_before"}},
)
async def delete_reading(reading_id: uuid.UUID, session: SessionDep) -> Response:
    await service.delete_reading(session, reading_id)
    return Response(status_code=204)
