from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from app.core.http import Route
from app.core.jsonutil import dumps
from app.core.migrate import head_revision
from app.core.schemas import ResponseBody
from app.ops.metrics import generate_latest

router = APIRouter(route_class=Route, tags=["operations"])


class HealthOut(ResponseBody):
    status: Literal["pass"]


class CheckOut(BaseModel):
    """One readiness check; checks add their own figures (e.g. the webhook backlog)."""

    model_config = ConfigDict(extra="allow")
    status: Literal["pass", "fail"]


class ReadinessOut(ResponseBody):
    status: Literal["pass", "fail"]
    checks: dict[str, CheckOut] = Field(
        description="`database`, `schema` (revision and head), `webhooks` (backlog) and, "
        "with a read replica, `read_replica` (its replay lag; advisory: reads fall back to "
        "the primary, so a failing replica does not fail readiness)."
    )


@router.get("/healthz", summary="Liveness (no database call)", response_model=HealthOut)
async def check_health() -> Response:
    return Response(b'{"status":"pass"}', media_type="application/json")


@router.get(
    "/readyz",
    summary="Readiness: database reachable and schema at head",
    response_model=ReadinessOut,
    responses={503: {"description": "Not ready; `checks` says why", "model": ReadinessOut}},
)
async def check_readiness(request: Request) -> Response:
    """`app.state.readiness_figures` (name → figures from a connection, wired by `app.main`)
    adds the informational checks, such as the webhook backlog."""
    checks: dict[str, Any] = {}
    try:
        async with request.app.state.engine.connect() as connection:
            revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            at_head = revision == head_revision()
            # Informational (always "pass"): a slow receiver must not take the API out of
            # rotation, but ops should see the delivery backlog and lag.
            figures = {
                name: {"status": "pass", **await figure(connection)}
                for name, figure in (request.app.state.readiness_figures if at_head else {}).items()
            }
        checks["database"] = {"status": "pass"}
        checks["schema"] = {
            "status": "pass" if at_head else "fail",
            "revision": revision,
            "head": head_revision(),
        }
        checks.update(figures)
    except Exception as exc:  # any failure to talk to the database means "not ready"
        checks["database"] = {"status": "fail", "error": type(exc).__name__}
    ok = all(check["status"] == "pass" for check in checks.values()) and "schema" in checks
    if request.app.state.reads.replica is not None:
        checks["read_replica"] = await request.app.state.reads.readiness()
    body = {"status": "pass" if ok else "fail", "checks": checks}
    return Response(dumps(body), status_code=200 if ok else 503, media_type="application/json")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def get_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
