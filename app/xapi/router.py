"""HTTP for the minimal xAPI 1.0.3 LRS (`/xapi/about`, `/xapi/statements`) and the backfill of a
measure's readings from stored statements."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.types import Message, Receive, Scope, Send

from app.auth.dependencies import basic_scheme, require
from app.auth.keys import Scope as Permission
from app.core.database import SessionDep
from app.core.errors import BadRequest, NotFound, validation_problem
from app.core.http import Route
from app.core.jsonutil import dumps, loads
from app.core.openapi import schema_ref
from app.core.pagination import Cursor
from app.core.schemas import PRINTABLE, ResponseBody
from app.xapi import service
from app.xapi.schemas import About, StatementIds, StatementResult, XapiStatement
from app.xapi.statements import (
    SUPPORTED_VERSION,
    UUID_PATTERN,
    VERSION,
    parse_statement_id,
)

VERSION_HEADER = "X-Experience-API-Version"
_QUERY_PARAMETERS = frozenset(
    {"statementId", "voidedStatementId", "verb", "activity", "limit", "cursor"}
)
_ALLOWED_METHODS = {"about": "GET", "statements": "GET, POST, PUT"}


class XapiRoute(Route):
    """Every LRS response, errors included (401, 400, 404…), carries the xAPI version header;
    and a request the LRS cannot take is a 400, as xAPI has it, never a 422."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (VERSION_HEADER.lower().encode(), VERSION.encode()),
                ]
            await send(message)

        await super().handle(scope, receive, send_with_version)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_400s(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                problem = validation_problem(exc)
                raise BadRequest(problem.detail, errors=problem.errors) from None

        return with_400s


# async, though it awaits nothing: FastAPI would run a plain def in its thread pool.
async def check_version(
    version: Annotated[str, Header(alias=VERSION_HEADER, description="1.0.x, e.g. 1.0.3")],
) -> None:
    if not SUPPORTED_VERSION.match(version.strip()):
        raise BadRequest(f"xAPI version {version!r} is not supported; this LRS speaks {VERSION}")


lrs = APIRouter(
    prefix="/xapi",
    tags=["xapi"],
    route_class=XapiRoute,
    dependencies=[
        Depends(check_version),
        Depends(require(Permission.ingest, allow_basic=True)),
        # For the document only (`require` reads the header): Basic is declared beside Bearer,
        # as an alternative security requirement of every LRS operation.
        Depends(basic_scheme),
    ],
)


def _json(body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), media_type="application/json", headers=headers)


def _parse(raw: bytes) -> Any:
    try:
        return loads(raw)
    except ValueError as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None


@lrs.get(
    "/about",
    summary="xAPI versions this LRS speaks",
    response_model=About,
    responses={400: {"description": "The version header is missing or not 1.0.x"}},
)
async def get_xapi_about() -> Response:
    return _json({"version": [VERSION]})


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI for a body the handler parses itself (xAPI errors are 400s, not FastAPI's 422s)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_STATEMENT = schema_ref(XapiStatement)
_BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not a statement this LRS can take, or a bad parameter"}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "A statement with this id is stored with other content"}
}


@lrs.post(
    "/statements",
    summary="Store one statement or an array of statements",
    response_description="The statement ids, in order",
    response_model=StatementIds,
    responses=_BAD_REQUEST | _CONFLICT,
    openapi_extra=_body({"oneOf": [_STATEMENT, {"type": "array", "items": _STATEMENT}]}),
)
async def post_xapi_statements(request: Request, session: SessionDep) -> Response:
    ids = await service.post_statements(session, _parse(await request.body()))
    return _json([str(statement_id) for statement_id in ids])


@lrs.put(
    "/statements",
    status_code=204,
    summary="Store one statement under a given id",
    responses=_BAD_REQUEST | _CONFLICT,
    openapi_extra=_body(_STATEMENT),
)
async def put_xapi_statement(
    request: Request,
    session: SessionDep,
    statement_id: Annotated[str, Query(alias="statementId", pattern=UUID_PATTERN)],
) -> Response:
    await service.put_statement(session, statement_id, _parse(await request.body()))
    return Response(status_code=204)


@lrs.get(
    "/statements",
    summary="One statement by id, or the most recently stored",
    description="`statementId` answers a statement unless it is voided; `voidedStatementId` "
    "answers it only if it is. Lists leave voided statements out.",
    response_model=StatementResult | XapiStatement,
    responses=_BAD_REQUEST
    | {404: {"description": "No such statement (or it is voided, or not voided)"}},
)
async def get_xapi_statements(
    request: Request,
    session: SessionDep,
    statement_id: Annotated[str | None, Query(alias="statementId", pattern=UUID_PATTERN)] = None,
    voided_statement_id: Annotated[
        str | None, Query(alias="voidedStatementId", pattern=UUID_PATTERN)
    ] = None,
    verb: Annotated[str | None, Query(max_length=2048, pattern=PRINTABLE)] = None,
    activity: Annotated[str | None, Query(max_length=2048, pattern=PRINTABLE)] = None,
    limit: Annotated[int, Query(ge=0, le=500, description="0 means the maximum, 500")] = 100,
    cursor: Cursor = None,
) -> Response:
    if unsupported := sorted(set(request.query_params) - _QUERY_PARAMETERS):
        raise BadRequest(f"this minimal LRS does not support {unsupported}")
    consistent = {"X-Experience-API-Consistent-Through": datetime.now(UTC).isoformat()}
    if statement_id is not None and voided_statement_id is not None:
        # Both at once ask for a statement that is voided and not voided: there is none.
        raise NotFound("no statement is both voided and not voided: give one of the two ids")
    if (one := statement_id or voided_statement_id) is not None:
        statement = await service.get_statement(
            session, parse_statement_id(one), voided=voided_statement_id is not None
        )
        return _json(statement, headers=consistent)
    statements, next_cursor = await service.list_statements(
        session, verb=verb, activity=activity, limit=limit or 500, cursor=cursor
    )
    more = ""
    if next_cursor is not None:
        query = {k: v for k, v in request.query_params.items() if k != "cursor"}
        more = f"/xapi/statements?{urlencode({**query, 'cursor': next_cursor})}"
    return _json({"statements": statements, "more": more}, headers=consistent)


@lrs.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False
)
async def not_implemented(path: str) -> Response:
    # Here so that unknown xAPI resources and methods also answer with the version header.
    if path in _ALLOWED_METHODS:
        raise HTTPException(
            405,
            f"/xapi/{path} allows {_ALLOWED_METHODS[path]}",
            headers={"Allow": _ALLOWED_METHODS[path]},
        )
    raise NotFound(f"/xapi/{path} is not part of this minimal LRS (about, statements)")


class BackfillOut(ResponseBody):
    created: int
    duplicates: int
    skipped: int


backfill = APIRouter(route_class=Route, tags=["xapi"])


@backfill.post(
    "/v1/measures/{measure_id}/xapi/backfill",
    dependencies=[Depends(require(Permission.write))],
    summary="Turn stored xAPI statements that match the measure's mapping into readings",
    description="Idempotent: statements already turned into readings count as duplicates. "
    "`skipped` counts matching statements that lack the field the mapping reads, and those "
    "observed before the scorecard's `locked_before`.",
    responses={409: {"description": "No xapi mapping, a derived measure, or a clashing reading"}},
)
async def backfill_measure_from_xapi(measure_id: uuid.UUID, session: SessionDep) -> BackfillOut:
    result = await service.backfill(session, measure_id)
    return BackfillOut(created=result.created, duplicates=result.duplicates, skipped=result.skipped)


router = APIRouter(route_class=Route)
router.include_router(lrs)
router.include_router(backfill)
