"""HTTP for scorecards and objectives: parse, call the service, shape the response."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth.dependencies import ListConnection, ReadConnection, require
from app.auth.keys import GRANTS, Caller, Scope
from app.core.database import SessionDep
from app.core.errors import NotFound
from app.core.http import IfMatch, Route, etag, operation_id
from app.core.pagination import Cursor, Limit
from app.core.reads import bodies_page, body_response
from app.core.schemas import PRINTABLE
from app.scorecards import queries, service
from app.scorecards.schemas import (
    ObjectiveCreate,
    ObjectiveOut,
    ObjectivePage,
    ObjectiveUpdate,
    ScorecardCreate,
    ScorecardOut,
    ScorecardPage,
    ScorecardUpdate,
)

router = APIRouter(route_class=Route, tags=["scorecards"])
# The hot reads: the app's own routes, matched before every other one (app.main).
reads = APIRouter(route_class=Route, tags=["scorecards"], generate_unique_id_function=operation_id)
can_read = [Depends(require(Scope.read))]
can_write = [Depends(require(Scope.write))]
Cascade = Annotated[bool, Query(description="Also delete everything underneath.")]


def _scorecard(response: Response, scorecard: object) -> ScorecardOut:
    out = ScorecardOut.model_validate(scorecard)
    response.headers["ETag"] = etag(out.version)
    return out


def _objective(response: Response, objective: object) -> ObjectiveOut:
    out = ObjectiveOut.model_validate(objective)
    response.headers["ETag"] = etag(out.version)
    return out


@router.post(
    "/v1/scorecards", status_code=201, dependencies=can_write, summary="Create a scorecard"
)
async def create_scorecard(
    body: ScorecardCreate, session: SessionDep, response: Response
) -> ScorecardOut:
    scorecard = await service.create_scorecard(session, body)
    response.headers["Location"] = f"/v1/scorecards/{scorecard.id}"
    return _scorecard(response, scorecard)


@reads.get(
    "/v1/scorecards",
    summary="List scorecards",
    response_model=ScorecardPage,
)
async def list_scorecards(
    connection: ListConnection,
    q: Annotated[
        str | None, Query(max_length=200, pattern=PRINTABLE, description="Filter by name.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    page = await queries.list_scorecards(connection, q=q, limit=limit, cursor=cursor)
    return bodies_page(*page)


@reads.get(
    "/v1/scorecards/{scorecard_id}",
    summary="Get a scorecard",
    response_model=ScorecardOut,
)
async def get_scorecard(scorecard_id: uuid.UUID, connection: ReadConnection) -> Response:
    scorecard = await queries.get_scorecard(connection, scorecard_id)
    if scorecard is None:
        raise NotFound(f"scorecard {scorecard_id} not found")
    return body_response(scorecard["body"], version=scorecard["version"])


@router.patch(
    "/v1/scorecards/{scorecard_id}",
    summary="Update a scorecard (partial)",
    responses={409: {"description": "A removed perspective still holds objectives or measures"}},
)
async def update_scorecard(
    scorecard_id: uuid.UUID,
    body: ScorecardUpdate,
    session: SessionDep,
    response: Response,
    caller: Annotated[Caller, Depends(require(Scope.write))],
    if_match: IfMatch = None,
) -> ScorecardOut:
    scorecard = await service.update_scorecard(
        session, scorecard_id, body, if_match, may_unlock=Scope.admin in GRANTS[caller.scope]
    )
    return _scorecard(response, scorecard)


@router.delete(
    "/v1/scorecards/{scorecard_id}",
    status_code=204,
    dependencies=can_write,
    summary="Delete a scorecard (409 while it has measures, unless cascade=true)",
    responses={409: {"description": "It still has measures (and no cascade=true)"}},
)
async def delete_scorecard(
    scorecard_id: uuid.UUID,
    session: SessionDep,
    cascade: Cascade = False,
    if_match: IfMatch = None,
) -> Response:
    await service.delete_scorecard(session, scorecard_id, cascade=cascade, if_match=if_match)
    return Response(status_code=204)


@router.post(
    "/v1/scorecards/{scorecard_id}/objectives",
    status_code=201,
    dependencies=can_write,
    summary="Create an objective",
)
async def create_objective(
    scorecard_id: uuid.UUID, body: ObjectiveCreate, session: SessionDep, response: Response
) -> ObjectiveOut:
    objective = await service.create_objective(session, scorecard_id, body)
    response.headers["Location"] = f"/v1/objectives/{objective.id}"
    return _objective(response, objective)


@reads.get(
    "/v1/scorecards/{scorecard_id}/objectives",
    summary="List a scorecard's objectives",
    response_model=ObjectivePage,
)
async def list_objectives(
    scorecard_id: uuid.UUID, connection: ListConnection, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    page = await queries.list_objectives(connection, scorecard_id, limit=limit, cursor=cursor)
    if page is None:
        raise NotFound(f"scorecard {scorecard_id} not found")
    return bodies_page(*page)


@reads.get(
    "/v1/objectives/{objective_id}",
    summary="Get an objective",
    response_model=ObjectiveOut,
)
async def get_objective(objective_id: uuid.UUID, connection: ReadConnection) -> Response:
    objective = await queries.get_objective(connection, objective_id)
    if objective is None:
        raise NotFound(f"objective {objective_id} not found")
    return body_response(objective["body"], version=objective["version"])


@router.patch(
    "/v1/objectives/{objective_id}", dependencies=can_write, summary="Update an objective (partial)"
)
async def update_objective(
    objective_id: uuid.UUID,
    body: ObjectiveUpdate,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ObjectiveOut:
    objective = await service.update_objective(session, objective_id, body, if_match)
    return _objective(response, objective)


@router.delete(
    "/v1/objectives/{objective_id}",
    status_code=204,
    dependencies=can_write,
    summary="Delete an objective (409 while it has measures, unless cascade=true)",
    responses={409: {"description": "It still has measures (and no cascade=true)"}},
)
async def delete_objective(
    objective_id: uuid.UUID,
    session: SessionDep,
    cascade: Cascade = False,
    if_match: IfMatch = None,
) -> Response:
    await service.delete_objective(session, objective_id, cascade=cascade, if_match=if_match)
    return Response(status_code=204)
