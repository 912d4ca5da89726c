"""HTTP for commentary on a measure's periods."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from app.auth.dependencies import require
from app.auth.keys import Caller, Scope
from app.commentary import service
from app.commentary.models import Commentary
from app.commentary.schemas import CommentaryOut, CommentaryPage, CommentaryWrite
from app.core.database import SessionDep
from app.core.http import IfMatch, Route, etag
from app.core.jsonutil import rfc3339
from app.core.pagination import Cursor, Limit
from app.core.schemas import Timestamp

router = APIRouter(route_class=Route, tags=["commentary"])
can_read = [Depends(require(Scope.read))]

PeriodStart = Annotated[
    Timestamp,
    Path(
        description="The RFC 3339 start of one of the measure's periods (its cadence, cut in "
        "its scorecard's time zone), e.g. `2026-03-01T00:00:00+01:00` or "
        "`2026-02-28T23:00:00Z` for March in Europe/Berlin; any other instant → 422."
    ),
]
_PATH = "/v1/measures/{measure_id}/commentary/{period_start}"


def _out(commentary: Commentary) -> CommentaryOut:
    return CommentaryOut.model_validate(
        {
            "measure_id": commentary.measure_id,
            "period": {"start": commentary.period_start, "end": commentary.period_end},
            "analysis": commentary.analysis,
            "actions": commentary.actions,
            "author": commentary.author,
            "version": commentary.version,
            "created_at": commentary.created_at,
            "updated_at": commentary.updated_at,
        }
    )


def _location(commentary: Commentary) -> str:
    start = rfc3339(commentary.period_start)
    return f"/v1/measures/{commentary.measure_id}/commentary/{start}"


@router.put(
    _PATH,
    summary="Write the commentary of one of a measure's periods (create or replace)",
    description="201 with `Location` when the period had none, else 200 (its `version` + 1). "
    "`author` is the name of the API key used. Scores and history show it for the period.",
    responses={
        201: {"model": CommentaryOut, "description": "Created"},
        409: {
            "description": "The commentary stored at this start is for another period (cut "
            "before the measure's cadence or its scorecard's time zone changed); delete it first"
        },
    },
)
async def put_commentary(
    measure_id: uuid.UUID,
    period_start: PeriodStart,
    body: CommentaryWrite,
    session: SessionDep,
    response: Response,
    caller: Annotated[Caller, Depends(require(Scope.write))],
    if_match: IfMatch = None,
) -> CommentaryOut:
    commentary, created = await service.put_commentary(
        session, measure_id, period_start, body, author=caller.name, if_match=if_match
    )
    if created:
        response.status_code = 201
        response.headers["Location"] = _location(commentary)
    response.headers["ETag"] = etag(commentary.version)
    return _out(commentary)


@router.get(
    _PATH, dependencies=can_read, summary="Get the commentary of one of a measure's periods"
)
async def get_commentary(
    measure_id: uuid.UUID, period_start: PeriodStart, session: SessionDep, response: Response
) -> CommentaryOut:
    commentary = await service.get_commentary(session, measure_id, period_start)
    response.headers["ETag"] = etag(commentary.version)
    return _out(commentary)


@router.delete(
    _PATH,
    status_code=204,
    dependencies=[Depends(require(Scope.write))],
    summary="Delete the commentary of one of a measure's periods",
)
async def delete_commentary(
    measure_id: uuid.UUID,
    period_start: PeriodStart,
    session: SessionDep,
    if_match: IfMatch = None,
) -> Response:
    await service.delete_commentary(session, measure_id, period_start, if_match)
    return Response(status_code=204)


@router.get(
    "/v1/measures/{measure_id}/commentary",
    dependencies=can_read,
    summary="List a measure's commentary, oldest period first",
    response_model=CommentaryPage,
)
async def list_commentary(
    measure_id: uuid.UUID,
    session: SessionDep,
    from_: Annotated[
        Timestamp | None, Query(alias="from", description="Periods starting at or after this.")
    ] = None,
    to: Annotated[Timestamp | None, Query(description="Periods starting before this.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CommentaryPage:
    rows, next_cursor = await service.list_commentary(
        session, measure_id, start=from_, end=to, limit=limit, cursor=cursor
    )
    return CommentaryPage(items=[_out(r) for r in rows], next_cursor=next_cursor)
