"""HTTP for scorecards and objectives: parse, call the service, shape the response."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth.dependencies import require
from app.auth.keys import Scope
from app.core.database import SessionDep
from app.core.http import IfMatch, Route, etag
from app.core.pagination import Cursor, Limit
from app.core.schemas import PRINTABLE
from app.scorecards import service
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


@router.get("/v1/scorecards", dependencies=can_read, summary="List scorecards")
async def list_scorecards(
    session: SessionDep,
    q: Annotated[
        str | None, Query(max_length=200, pattern=PRINTABLE, description="Filter by name.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ScorecardPage:
    rows, next_cursor = await service.list_scorecards(session, q=q, limit=limit, cursor=cursor)
    return ScorecardPage(
        items=[ScorecardOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/v1/scorecards/{scorecard_id}", dependencies=can_read, summary="Get a scorecard")
async def get_scorecard(
    scorecard_id: uuid.UUID, session: SessionDep, response: Response
) -> ScorecardOut:
    return _scorecard(response, await service.get_scorecard(session, scorecard_id))


@router.patch(
    "/v1/scorecards/{scorecard_id}", dependencies=can_write, summary="Update a scorecard (partial)"
)
async def update_scorecard(
    scorecard_id: uuid.UUID,
    body: ScorecardUpdate,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ScorecardOut:
    scorecard = await service.update_scorecard(session, scorecard_id, body, if_match)
    return _scorecard(response, scorecard)


@router.delete(
    "/v1/scorecards/{scorecard_id}",
    status_code=204,
    dependencies=can_write,
    summary="Delete a scorecard (409 while it has measures, unless cascade=true)",
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


@router.get(
    "/v1/scorecards/{scorecard_id}/objectives",
    dependencies=can_read,
    summary="List a scorecard's objectives",
)
async def list_objectives(
    scorecard_id: uuid.UUID, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> ObjectivePage:
    rows, next_cursor = await service.list_objectives(
        session, scorecard_id, limit=limit, cursor=cursor
    )
    return ObjectivePage(
        items=[ObjectiveOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/v1/objectives/{objective_id}", dependencies=can_read, summary="Get an objective")
async def get_objective(
    objective_id: uuid.UUID, session: SessionDep, response: Response
) -> ObjectiveOut:
    return _objective(response, await service.get_objective(session, objective_id))


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
)
async def delete_objective(
    objective_id: uuid.UUID,
    session: SessionDep,
    cascade: Cascade = False,
    if_match: IfMatch = None,
) -> Response:
    await service.delete_objective(session, objective_id, cascade=cascade, if_match=if_match)
    return Response(status_code=204)
