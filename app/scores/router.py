"""HTTP for scores and history (computed on read)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import TypeAdapter

from app.auth.dependencies import require
from app.auth.keys import Scope
from app.core.errors import ValidationFailed
from app.core.http import Route
from app.core.reads import json_response
from app.core.schemas import Timestamp
from app.scores import service
from app.scores.schemas import (
    MeasureHistoryOut,
    MeasureScoreOut,
    ScorecardHistoryOut,
    ScorecardScoreOut,
    StrategyMapOut,
)
from app.scores.service import Evaluate
from app.scores.strategy_map import load_strategy_map, render_svg
from app.scoring import Cadence, MeasureScore, PeriodSelector, ScorecardScore

router = APIRouter(route_class=Route, tags=["scores"], dependencies=[Depends(require(Scope.read))])

AsOf = Annotated[
    Timestamp | None,
    Query(description="Evaluate at this instant (RFC 3339 with an offset); default now."),
]
Selector = Annotated[
    PeriodSelector, Query(alias="period", description="`current`, or `previous` (last closed).")
]
From = Annotated[Timestamp | None, Query(alias="from", description="Default: a year before `to`.")]
To = Annotated[Timestamp | None, Query(description="Exclusive; default now.")]


# The engine's result dataclasses carry exactly the API's field names: serialize them directly
# (one pass, no re-validation); the *Out models document the same shape in the OpenAPI.
_MEASURE_SCORE = TypeAdapter(MeasureScore)


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _range(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    end = end or now
    start = start or end - timedelta(days=365)
    if start >= end:
        raise ValidationFailed.at(["query", "from"], "`from` must be before `to`")
    return start, end


@router.get(
    "/v1/scorecards/{scorecard_id}/score",
    summary="Score a scorecard",
    description="Computed on read. Without `as_of`, a score computed up to "
    "`SCORECARD_SCORE_CACHE_SECONDS` (default 1) earlier is returned when nothing it depends "
    "on has changed since (no reading or commentary written, no definition edited); `as_of` "
    "in the response always names the instant it describes.",
    response_model=ScorecardScoreOut,
)
async def get_scorecard_score(
    scorecard_id: uuid.UUID,
    request: Request,
    as_of: AsOf = None,
    selector: Selector = PeriodSelector.current,
) -> Response:
    state = request.app.state
    if state.reads.replica is None:
        async with state.read_pool.acquire() as connection:
            body = await service.score_scorecard_json(
                connection, state.definitions, state.score_cache, scorecard_id, as_of, selector
            )
    else:  # the version on the primary (a cached score is done), a new score on the replica

        async def on_replica(evaluate: Evaluate) -> ScorecardScore:
            # As far as the primary had got once the version was read (the key check's
            # position is older): else a write committed in between could be missing from a
            # score cached under the version that includes it.
            score: ScorecardScore = await state.reads.run(request, evaluate, since_now=True)
            return score

        body = await service.score_scorecard_json(
            state.read_pool,
            state.definitions,
            state.score_cache,
            scorecard_id,
            as_of,
            selector,
            elsewhere=on_replica,
        )
    return _json(body)


@router.get(
    "/v1/measures/{measure_id}/score", summary="Score one measure", response_model=MeasureScoreOut
)
async def get_measure_score(
    measure_id: uuid.UUID,
    request: Request,
    as_of: AsOf = None,
    selector: Selector = PeriodSelector.current,
) -> Response:
    instant = as_of or datetime.now(UTC)
    state = request.app.state
    result = await state.reads.run(
        request,
        lambda connection: service.score_measure(
            connection, state.definitions, measure_id, instant, selector
        ),
    )
    return _json(_MEASURE_SCORE.dump_json(result))


@router.get(
    "/v1/scorecards/{scorecard_id}/history",
    summary="Scorecard score per period",
    response_model=ScorecardHistoryOut,
)
async def get_scorecard_history(
    scorecard_id: uuid.UUID,
    request: Request,
    from_: From = None,
    to: To = None,
    cadence: Cadence = Cadence.month,
) -> ScorecardHistoryOut:
    now = datetime.now(UTC)
    start, end = _range(from_, to, now)
    state = request.app.state
    entries = await state.reads.run(
        request,
        lambda connection: service.scorecard_history(
            connection, state.definitions, scorecard_id, start, end, cadence, now
        ),
    )
    return ScorecardHistoryOut.model_validate(
        {"scorecard_id": scorecard_id, "cadence": cadence, "entries": entries}
    )


@router.get(
    "/v1/measures/{measure_id}/history",
    summary="Measure value and score per period",
    response_model=MeasureHistoryOut,
)
async def get_measure_history(
    measure_id: uuid.UUID,
    request: Request,
    from_: From = None,
    to: To = None,
) -> MeasureHistoryOut:
    now = datetime.now(UTC)
    start, end = _range(from_, to, now)
    state = request.app.state
    cadence, source, entries = await state.reads.run(
        request,
        lambda connection: service.measure_history(
            connection, state.definitions, measure_id, start, end, now
        ),
    )
    return MeasureHistoryOut.model_validate(
        {"measure_id": measure_id, "cadence": cadence, "source": source, "entries": entries}
    )


SVG = "image/svg+xml"


def _prefers_svg(accept: str | None) -> bool:
    """Whether the Accept header ranks SVG above JSON (JSON on a tie, and by default)."""
    best = {"svg": 0.0, "json": 0.0}
    for entry in (accept or "").split(","):
        media, *params = (part.strip() for part in entry.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media in (SVG, "image/*"):
            best["svg"] = max(best["svg"], quality)
        if media in ("application/json", "application/*", "*/*"):
            best["json"] = max(best["json"], quality)
    return best["svg"] > best["json"]


@router.get(
    "/v1/scorecards/{scorecard_id}/map",
    summary="The scorecard's strategy map",
    description="Its objectives with their scores at `as_of`, and the arrows of their "
    "`drives` (cause → effect). With `Accept: image/svg+xml`, the same map as a picture: one "
    "band per perspective, each objective a box coloured by its status.",
    response_model=StrategyMapOut,
    responses={
        200: {
            "content": {
                SVG: {"schema": {"type": "string", "description": "The map as an SVG picture."}}
            }
        }
    },
)
async def get_strategy_map(
    scorecard_id: uuid.UUID, request: Request, as_of: AsOf = None
) -> Response:
    instant = as_of or datetime.now(UTC)
    state = request.app.state
    strategy = await state.reads.run(
        request,
        lambda connection: load_strategy_map(connection, state.definitions, scorecard_id, instant),
    )
    if _prefers_svg(request.headers.get("accept")):
        return Response(render_svg(strategy), media_type=SVG, headers={"Vary": "Accept"})
    response = json_response(strategy.as_json())
    response.headers["Vary"] = "Accept"
    return response
