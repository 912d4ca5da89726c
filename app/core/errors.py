"""One error hierarchy, rendered as RFC 9457 problem+json by one set of handlers."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import structlog
from asyncpg.exceptions import DeadlockDetectedError, SerializationError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.jsonutil import dumps

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


def _pydantic_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid value"))
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        elif error.get("type") == "json_invalid":
            message = f"invalid JSON: {error.get('ctx', {}).get('error', 'malformed')}"
        errors.append({"loc": list(error.get("loc", ())), "message": message})
    return errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> Response:
        return problem_response(
            exc.status, exc.detail, slug=exc.slug, errors=exc.errors, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = _pydantic_errors(exc)
        where = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:5])
        return problem_response(
            422, f"invalid request: {where}", slug="validation-error", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no such resource or route"
        return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if _aborted_to_retry(exc):
            # PostgreSQL broke a lock cycle or a serialization conflict by aborting this
            # transaction: nothing was stored, and the same request will most likely succeed.
            log.warning("transaction_aborted", path=request.url.path, error=repr(exc)[:200])
            return problem_response(
                503,
                "a concurrent change got in the way; nothing was stored, retry the request",
                slug="retry",
                headers={"Retry-After": "1"},
            )
        # The traceback goes to the log (with the request id), never to the client.
        log.exception("unhandled_error", path=request.url.path)
        return problem_response(500, "internal error; the request id is in X-Request-ID")


def _aborted_to_retry(exc: BaseException) -> bool:
    """A deadlock or serialization failure, raised by asyncpg directly or wrapped by
    SQLAlchemy (whose DBAPIError wraps an adapter error caused by asyncpg's)."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if isinstance(seen, DeadlockDetectedError | SerializationError):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False
