"""HTTP for measures."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth.dependencies import ListConnection, ReadConnection, require
from app.auth.keys import Scope
from app.core.database import SessionDep
from app.core.errors import NotFound
from app.core.http import IfMatch, Route, etag, operation_id
from app.core.pagination import Cursor, Limit
from app.core.reads import bodies_page, body_response
from app.core.schemas import PRINTABLE
from app.measures import queries, service
from app.measures.schemas import Level, MeasureCreate, MeasureOut, MeasurePage, MeasureUpdate

router = APIRouter(route_class=Route, tags=["measures"])
# The hot reads: the app's own routes, matched before every other one (app.main).
reads = APIRouter(route_class=Route, tags=["measures"], generate_unique_id_function=operation_id)
can_read = [Depends(require(Scope.read))]
can_write = [Depends(require(Scope.write))]


def _measure(response: Response, measure: object) -> MeasureOut:
    out = MeasureOut.model_validate(measure)
    response.headers["ETag"] = etag(out.version)
    return out


@router.post(
    "/v1/scorecards/{scorecard_id}/measures",
    status_code=201,
    dependencies=can_write,
    summary="Create a measure",
    responses={409: {"description": "A measure with this key already exists in the scorecard"}},
)
async def create_measure(
    scorecard_id: uuid.UUID, body: MeasureCreate, session: SessionDep, response: Response
) -> MeasureOut:
    measure = await service.create_measure(session, scorecard_id, body)
    response.headers["Location"] = f"/v1/measures/{measure.id}"
    return _measure(response, measure)


@reads.get(
    "/v1/scorecards/{scorecard_id}/measures",
    summary="List a scorecard's measures",
    response_model=MeasurePage,
)
async def list_measures(
    scorecard_id: uuid.UUID,
    connection: ListConnection,
    perspective: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    objective_id: uuid.UUID | None = None,
    level: Level | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    page = await queries.list_measures(
        connection,
        scorecard_id,
        limit=limit,
        cursor=cursor,
        filters={"perspective": perspective, "objective_id": objective_id, "level": level},
    )
    if page is None:
        raise NotFound(f"scorecard {scorecard_id} not found")
    return bodies_page(*page)


@reads.get(
    "/v1/measures/{measure_id}",
    summary="Get a measure",
    response_model=MeasureOut,
)
async def get_measure(measure_id: uuid.UUID, connection: ReadConnection) -> Response:
    measure = await queries.get_measure(connection, measure_id)
    if measure is None:
        raise NotFound(f"measure {measure_id} not found")
    return body_response(measure["body"], version=measure["version"])


@router.patch(
    "/v1/measures/{measure_id}",
    dependencies=can_write,
    summary="Update a measure (partial)",
    responses={409: {"description": "The key is taken or used by formulas, or it has readings"}},
)
async def update_measure(
    measure_id: uuid.UUID,
    body: MeasureUpdate,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> MeasureOut:
    return _measure(response, await service.update_measure(session, measure_id, body, if_match))


@router.delete(
    "/v1/measures/{measure_id}",
    status_code=204,
    dependencies=can_write,
    summary="Delete a measure (409 while it has readings, unless cascade=true)",
    responses={409: {"description": "It has readings (no cascade=true), or formulas use it"}},
)
async def delete_measure(
    measure_id: uuid.UUID,
    session: SessionDep,
    cascade: Annotated[bool, Query(description="Also delete its readings.")] = False,
    if_match: IfMatch = None,
) -> Response:
    await service.delete_measure(session, measure_id, cascade=cascade, if_match=if_match)
    return Response(status_code=204)
