"""HTTP for share links (`/v1`, with an API key) and for what a link opens (`/s/{token}`,
without one: the dashboard and its badges)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from asyncpg import Connection
from fastapi import APIRouter, Depends, Request, Response

from app.auth.dependencies import require
from app.auth.keys import Scope
from app.core.database import SessionDep
from app.core.http import Route
from app.core.pagination import Cursor, Limit
from app.core.schemas import Page, ResponseBody
from app.dashboard import links
from app.dashboard.badges import badge_svg
from app.dashboard.view import Dashboard, dashboard_html, load_dashboard, not_found_html
from app.scores.service import score_scorecard
from app.scoring import PeriodSelector, ScorecardScore

router = APIRouter(route_class=Route, tags=["share-links"])


class ShareLinkOut(ResponseBody):
    id: uuid.UUID
    scorecard_id: uuid.UUID
    created_at: datetime


class ShareLinkPage(Page[ShareLinkOut]):
    """A page of a scorecard's share links (never their tokens)."""


class ShareLinkCreated(ShareLinkOut):
    token: str
    url: str


@router.post(
    "/v1/scorecards/{scorecard_id}/share-links",
    status_code=201,
    dependencies=[Depends(require(Scope.write))],
    response_model=ShareLinkCreated,
    summary="Create a share link (the token is shown only in this response)",
    description="Whoever holds `url` sees the scorecard's read-only dashboard and badges, "
    "without an API key, until the link is revoked.",
)
async def create_share_link(
    scorecard_id: uuid.UUID, session: SessionDep, response: Response
) -> ShareLinkCreated:
    link, token = await links.create_share_link(session, scorecard_id)
    response.headers["Location"] = f"/v1/share-links/{link.id}"
    return ShareLinkCreated(
        **ShareLinkOut.model_validate(link).model_dump(), token=token, url=links.share_path(token)
    )


@router.get(
    "/v1/scorecards/{scorecard_id}/share-links",
    dependencies=[Depends(require(Scope.read))],
    response_model=ShareLinkPage,
    summary="List a scorecard's share links (never their tokens)",
)
async def list_share_links(
    scorecard_id: uuid.UUID, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> ShareLinkPage:
    rows, next_cursor = await links.list_share_links(
        session, scorecard_id, limit=limit, cursor=cursor
    )
    return ShareLinkPage(
        items=[ShareLinkOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.delete(
    "/v1/share-links/{link_id}",
    status_code=204,
    dependencies=[Depends(require(Scope.write))],
    summary="Revoke a share link (its dashboard and badges answer 404 at once)",
)
async def revoke_share_link(link_id: uuid.UUID, session: SessionDep) -> Response:
    await links.revoke_share_link(session, link_id)
    return Response(status_code=204)


# --- what a link opens -----------------------------------------------------------------------

# The pages carry everything they show (inline CSS and SVG): nothing may load from elsewhere,
# and the token in the URL must not travel on in a Referer.
SHARED_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
BADGE_HEADERS = {**SHARED_HEADERS, "Cache-Control": "max-age=60"}
PAGE_HEADERS = {**SHARED_HEADERS, "Cache-Control": "no-store"}

shared = APIRouter(route_class=Route, include_in_schema=False)


def _not_found_page() -> Response:
    return Response(not_found_html(), status_code=404, media_type="text/html", headers=PAGE_HEADERS)


def _not_found_badge() -> Response:
    return Response("not found\n", status_code=404, media_type="text/plain", headers=SHARED_HEADERS)


@shared.get("/s/{token}")
async def get_dashboard(token: str, request: Request) -> Response:
    state = request.app.state

    async def read(connection: Connection) -> Dashboard | None:
        found = await links.find_shared(connection, token)
        if found is None:
            return None
        return await load_dashboard(connection, state.definitions, found, datetime.now(UTC))

    if (dashboard := await state.reads.run(request, read)) is None:
        return _not_found_page()
    return Response(dashboard_html(dashboard), media_type="text/html", headers=PAGE_HEADERS)


async def _shared_score(request: Request, token: str) -> tuple[str, ScorecardScore] | None:
    """The shared scorecard's name and its score now, or None for an unknown token."""
    state = request.app.state

    async def read(connection: Connection) -> tuple[str, ScorecardScore] | None:
        found = await links.find_shared(connection, token)
        if found is None:
            return None
        _, score = await score_scorecard(
            connection,
            state.definitions,
            found.scorecard_id,
            datetime.now(UTC),
            PeriodSelector.current,
        )
        return found.name, score

    shared_score: tuple[str, ScorecardScore] | None = await state.reads.run(request, read)
    return shared_score


@shared.get("/s/{token}/badge.svg")
async def get_scorecard_badge(token: str, request: Request) -> Response:
    if (shared_score := await _shared_score(request, token)) is None:
        return _not_found_badge()
    name, score = shared_score
    svg = badge_svg(name, score.score, score.status)
    return Response(svg, media_type="image/svg+xml", headers=BADGE_HEADERS)


@shared.get("/s/{token}/measures/{key}/badge.svg")
async def get_measure_badge(token: str, key: str, request: Request) -> Response:
    if (shared_score := await _shared_score(request, token)) is None:
        return _not_found_badge()
    _, score = shared_score
    measure = next((m for m in score.measures() if m.key == key), None)
    if measure is None:
        return _not_found_badge()
    svg = badge_svg(measure.name, measure.score, measure.status)
    return Response(svg, media_type="image/svg+xml", headers=BADGE_HEADERS)
