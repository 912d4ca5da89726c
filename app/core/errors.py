"""One error hierarchy, rendered as RFC 9457 problem+json by one set of handlers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import sqlalchemy.exc
import structlog
from asyncpg.exceptions import (
    DeadlockDetectedError,
    InterfaceError,
    OperatorInterventionError,
    PostgresConnectionError,
    SerializationError,
    TooManyConnectionsError,
)
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.jsonutil import dumps
from app.core.schemas import PRINTABLE, PRINTABLE_MESSAGE

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("app.errors")


class ProblemError(Exception):
    """An error a client can act on. Subclasses fix the status; `detail` says what went wrong."""

    status: int = 400
    slug: str = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = headers or {}


class BadRequest(ProblemError):
    status, slug = 400, "bad-request"


class Unauthorized(ProblemError):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="scorecard"'})


class Forbidden(ProblemError):
    status, slug = 403, "forbidden"


class NotFound(ProblemError):
    status, slug = 404, "not-found"


class Conflict(ProblemError):
    status, slug = 409, "conflict"


class PreconditionFailed(ProblemError):
    status, slug = 412, "precondition-failed"


class PayloadTooLarge(ProblemError):
    status, slug = 413, "payload-too-large"


class UnsupportedMediaType(ProblemError):
    status, slug = 415, "unsupported-media-type"


class ValidationFailed(ProblemError):
    status, slug = 422, "validation-error"

    def __init__(self, detail: str, errors: Sequence[dict[str, Any]]) -> None:
        super().__init__(detail, errors=errors)

    @classmethod
    def at(cls, loc: Sequence[str | int], message: str) -> ValidationFailed:
        """A single-field validation failure, e.g. `ValidationFailed.at(["body", "key"], ...)`."""
        return cls(message, [{"loc": list(loc), "message": message}])


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    title = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"https://scorecard.dev/problems/{slug or title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return Response(dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def error_message(error: Mapping[str, Any]) -> str:
    """A pydantic error as a client reads it: our words where pydantic's would puzzle."""
    kind, context = error.get("type"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "json_invalid":
        return f"invalid JSON: {context.get('error', 'malformed')}"
    if kind == "string_pattern_mismatch" and context.get("pattern") == PRINTABLE:
        return PRINTABLE_MESSAGE
    if kind == "value_error":  # our validators' own sentences, without pydantic's prefix
        return str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return str(error.get("msg", "invalid value"))


def validation_problem(exc: RequestValidationError) -> ValidationFailed:
    """FastAPI's validation errors in our words, every bad field located."""
    errors = [
        {"loc": list(error.get("loc", ())), "message": error_message(error)}
        for error in exc.errors()
    ]
    where = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:5])
    return ValidationFailed(f"invalid request: {where}", errors)


_FASTAPI_UNPARSEABLE_BODY = "There was an error parsing the body"


def install_error_handlers(app: FastAPI) -> None:
    """Handlers for the errors a client caused. The rest are answered with
    `unexpected_error_response` by the request middleware (`app.core.middleware`)."""

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> Response:
        return problem_response(
            exc.status, exc.detail, slug=exc.slug, errors=exc.errors, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        problem = validation_problem(exc)
        return problem_response(422, problem.detail, slug=problem.slug, errors=problem.errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return _method_not_allowed(request)
        if exc.status_code == 400 and exc.detail == _FASTAPI_UNPARSEABLE_BODY:
            # FastAPI's answer to a JSON body that is not even text: as invalid as bad JSON.
            message = "invalid JSON: the body is not UTF-8 text"
            return problem_response(
                422,
                message,
                slug="validation-error",
                errors=[{"loc": ["body"], "message": message}],
            )
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no such resource or route"
        return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))


def _method_not_allowed(request: Request) -> Response:
    """Starlette's 405 names the methods of the first route that matched the path; a path's
    GET and PATCH are separate routes, so `Allow` is gathered from all of them."""
    methods = sorted(
        {
            method
            # Every route, those of included routers too (they are not in `routes` themselves).
            for route in iter_route_contexts(request.app.router.routes)
            if getattr(route, "include_in_schema", True)  # not catch-alls, e.g. /xapi's
            and route.matches(request.scope)[0] is not Match.NONE
            for method in route.methods or ()
        }
        - {"HEAD"}
    )
    allowed = ", ".join(methods)
    return problem_response(
        405, f"{request.method} is not allowed here; allowed: {allowed}", headers={"Allow": allowed}
    )


def unexpected_error_response(exc: Exception, path: str) -> Response:
    """The answer to an exception no handler claimed: 503 + Retry-After when the database broke
    the transaction off or cannot be reached (nothing was stored; the same request may well
    succeed), else 500. The log gets the exception's class (a database error's text can carry
    the statement's values); a 500 also its traceback. The client never sees either."""
    if _aborted_to_retry(exc):
        log.warning("transaction_aborted", path=path, error=_innermost(exc))
        return problem_response(
            503,
            "a concurrent change got in the way; nothing was stored, retry the request",
            slug="retry",
            headers={"Retry-After": "1"},
        )
    if database_unavailable(exc):
        log.warning("database_unavailable", path=path, error=_innermost(exc))
        return problem_response(
            503,
            "the database cannot be reached; retry the request shortly",
            slug="database-unavailable",
            headers={"Retry-After": "5"},
        )
    log.exception("unhandled_error", path=path)
    return problem_response(500, "internal error; the request id is in X-Request-ID")


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps: SQLAlchemy's DBAPIError wraps an adapter error (.orig)
    caused by asyncpg's."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 6:
        chain.append(seen)
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return chain


def _innermost(exc: BaseException) -> str:
    return type(_causes(exc)[-1]).__name__


def _aborted_to_retry(exc: BaseException) -> bool:
    """A deadlock or serialization failure, raised by asyncpg directly or wrapped."""
    return any(isinstance(e, DeadlockDetectedError | SerializationError) for e in _causes(exc))


def database_unavailable(exc: BaseException) -> bool:
    """The database is down, restarting, refusing connections, or dropped ours: PostgreSQL's
    connection (08) and operator-intervention (57P) classes, a refused or reset socket, a pool
    that timed out waiting, or a connection SQLAlchemy found dead."""
    for cause in _causes(exc):
        if isinstance(
            cause,
            PostgresConnectionError
            | OperatorInterventionError
            | TooManyConnectionsError
            | OSError
            | TimeoutError
            | sqlalchemy.exc.TimeoutError,
        ):
            return True
        if isinstance(cause, sqlalchemy.exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, InterfaceError) and "closed" in str(cause):
            return True
    return False
