"""HTTP for the audit log. Scope admin: app.main includes this router behind
`require(Scope.admin)` (the audit log sits below app.auth, which writes entries too, so it
cannot import the dependency itself)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.audit import queries
from app.audit.log import Action
from app.audit.schemas import AuditPage
from app.core.http import Route
from app.core.pagination import Cursor, Limit
from app.core.reads import page_response
from app.core.schemas import PRINTABLE, Timestamp

router = APIRouter(route_class=Route, tags=["audit"])


@router.get(
    "/v1/audit",
    summary="The audit log: who changed what, newest first",
    description="One entry per change made through the API (scorecards, objectives, measures, "
    "readings, commentary, initiatives, webhooks, API keys), written in the change's own "
    "transaction; one entry with counts per batch, CSV import or xAPI request. Entries are kept "
    "`SCORECARD_AUDIT_RETENTION_DAYS` (default 400).",
    response_model=AuditPage,
)
async def list_audit_entries(
    request: Request,
    scorecard_id: uuid.UUID | None = None,
    resource_id: uuid.UUID | None = None,
    actor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=PRINTABLE,
            description="An API key's id, or the name it had when it made the change.",
        ),
    ] = None,
    action: Action | None = None,
    after: Annotated[
        Timestamp | None, Query(description="Only entries made after this instant.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    page = await request.app.state.reads.run(
        request,
        lambda connection: queries.list_entries(
            connection,
            scorecard_id=scorecard_id,
            resource_id=resource_id,
            actor=actor,
            action=action,
            after=after,
            limit=limit,
            cursor=cursor,
        ),
    )
    return page_response(*page)
