"""HTTP for initiatives: parse, call the service, shape the response."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.dependencies import require
from app.auth.keys import Scope
from app.core.database import SessionDep
from app.core.errors import NotFound
from app.core.http import IfMatch, Route, etag
from app.core.pagination import Cursor, Limit
from app.core.reads import json_response, page_response
from app.core.schemas import PRINTABLE, Timestamp
from app.initiatives import queries, service
from app.initiatives.schemas import (
    InitiativeCreate,
    InitiativeOut,
    InitiativePage,
    InitiativeSummary,
    InitiativeUpdate,
)
from app.scoring import InitiativeStatus

router = APIRouter(route_class=Route, tags=["initiatives"])
can_read = [Depends(require(Scope.read))]
can_write = [Depends(require(Scope.write))]


def _initiative(response: Response, out: InitiativeOut) -> InitiativeOut:
    response.headers["ETag"] = etag(out.version)
    return out


@router.post(
    "/v1/scorecards/{scorecard_id}/initiatives",
    status_code=201,
    dependencies=can_write,
    summary="Create an initiative",
    description="Its objectives and measures must be of this scorecard (else 422 naming them).",
)
async def create_initiative(
    scorecard_id: uuid.UUID, body: InitiativeCreate, session: SessionDep, response: Response
) -> InitiativeOut:
    out = await service.create_initiative(session, scorecard_id, body)
    response.headers["Location"] = f"/v1/initiatives/{out.id}"
    return _initiative(response, out)


@router.get(
    "/v1/scorecards/{scorecard_id}/initiatives",
    dependencies=can_read,
    summary="List a scorecard's initiatives",
    response_model=InitiativePage,
)
async def list_initiatives(
    scorecard_id: uuid.UUID,
    request: Request,
    objective_id: Annotated[
        uuid.UUID | None, Query(description="Only those linked to this objective.")
    ] = None,
    measure_id: Annotated[
        uuid.UUID | None, Query(description="Only those linked to this measure.")
    ] = None,
    status: InitiativeStatus | None = None,
    owner: Annotated[
        str | None, Query(max_length=200, pattern=PRINTABLE, description="Exact owner.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    filters = {
        "objective_id": objective_id,
        "measure_id": measure_id,
        "status": None if status is None else status.value,
        "owner": owner,
    }
    page = await request.app.state.reads.run(
        request,
        lambda connection: queries.list_initiatives(
            connection, scorecard_id, filters=filters, limit=limit, cursor=cursor
        ),
    )
    if page is None:
        raise NotFound(f"scorecard {scorecard_id} not found")
    return page_response(*page)


@router.get(
    "/v1/scorecards/{scorecard_id}/initiatives/summary",
    dependencies=can_read,
    summary="Summarise a scorecard's initiatives",
    description="Counts per status, planned and spent budget per currency, and the measures "
    "red at `as_of` that no initiative active then covers.",
    response_model=InitiativeSummary,
)
async def get_initiative_summary(
    scorecard_id: uuid.UUID,
    request: Request,
    as_of: Annotated[
        Timestamp | None,
        Query(description="Evaluate at this instant (RFC 3339 with an offset); default now."),
    ] = None,
) -> Response:
    state = request.app.state
    summary = await state.reads.run(
        request,
        lambda connection: service.initiative_summary(
            connection, state.definitions, scorecard_id, as_of or datetime.now(UTC)
        ),
    )
    return json_response(summary)


@router.get(
    "/v1/initiatives/{initiative_id}",
    dependencies=can_read,
    summary="Get an initiative",
    response_model=InitiativeOut,
)
async def get_initiative(initiative_id: uuid.UUID, request: Request) -> Response:
    async with request.app.state.read_pool.acquire() as connection:
        initiative = await queries.get_initiative(connection, initiative_id)
    if initiative is None:
        raise NotFound(f"initiative {initiative_id} not found")
    return json_response(initiative, version=initiative["version"])


@router.patch(
    "/v1/initiatives/{initiative_id}",
    dependencies=can_write,
    summary="Update an initiative (partial)",
    description="A change of `status` emits `initiative.status_changed`. Sent link lists "
    "replace the stored ones.",
)
async def update_initiative(
    initiative_id: uuid.UUID,
    body: InitiativeUpdate,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> InitiativeOut:
    out = await service.update_initiative(session, initiative_id, body, if_match)
    return _initiative(response, out)


@router.delete(
    "/v1/initiatives/{initiative_id}",
    status_code=204,
    dependencies=can_write,
    summary="Delete an initiative",
)
async def delete_initiative(
    initiative_id: uuid.UUID, session: SessionDep, if_match: IfMatch = None
) -> Response:
    await service.delete_initiative(session, initiative_id, if_match=if_match)
    return Response(status_code=204)
