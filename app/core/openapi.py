"""The OpenAPI document, made exact: every operation declares every response it can give.

FastAPI documents the success responses and a `HTTPValidationError` 422 that this service never
sends. The errors all come from the same few places (authentication, parameter and body
validation, the lookup of a path's resource, If-Match, the body's size and media type, the
database), so they are derived here from what each operation takes, once for all, instead of
being declared by hand on 47 routes; a route adds only what is its own (409, 400 for xAPI)."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from app.core.errors import PROBLEM_JSON


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, in words a person can act on."""

    type: str = Field(examples=["https://scorecard.dev/problems/not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["measure 0193a1b2-0000-7000-8000-000000000001 not found"])


class FieldError(BaseModel):
    loc: list[str | int] = Field(examples=[["body", "readings", 3, "value"]])
    message: str = Field(examples=["Input should be a finite number"])


class ValidationProblem(Problem):
    """A 422: every bad field, each located by `loc`."""

    errors: list[FieldError]


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_DESCRIPTIONS = {
    401: "No API key, or an unknown or revoked one",
    403: "The key's scope does not allow this",
    404: "No such resource",
    412: "If-Match names another version than the current one",
    413: "The body exceeds 10 MiB (or the operation's item limit)",
    415: "The body's Content-Type is not one this operation takes",
    422: "Invalid parameters or body; `errors` names each bad field",
    500: "A fault of the service; the log has it under the X-Request-ID",
    503: "The database is unavailable, a concurrent change got in the way, or the server is at "
    "its connection limit; retry after Retry-After seconds",
}


def _error_statuses(operation: dict[str, Any]) -> Iterable[int]:
    parameters = operation.get("parameters", [])
    if operation.get("security"):
        yield from (401, 403)
    if (parameters or "requestBody" in operation) and "400" not in operation["responses"]:
        yield 422  # (an operation that declares 400, like xAPI's, answers bad input with it)
    if any(p["in"] == "path" for p in parameters):
        yield 404
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in parameters):
        yield 412
    if "requestBody" in operation:
        yield from (413, 415)
    yield from (500, 503)


_NAMED = "x-named-schema"


def named(name: str) -> dict[str, str]:
    """A reference to the named schema `name` (a component given to `install_openapi`), to use
    inside a pydantic JSON schema: pydantic resolves every `$ref` among its own definitions,
    so the reference is written as a placeholder and made a `$ref` in the finished document."""
    return {_NAMED: name}


def _resolve_named(node: Any) -> Any:
    if isinstance(node, dict):
        if _NAMED in node:
            return {"$ref": f"#/components/schemas/{node[_NAMED]}"}
        return {key: _resolve_named(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve_named(value) for value in node]
    return node


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    """A reference to `model` among the named schemas (give `model` to `install_openapi`)."""
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _declare_errors(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    if "400" in responses:  # FastAPI's own 422; this operation answers bad input with 400
        responses.pop("422", None)
    for status in _error_statuses(operation):
        responses.setdefault(str(status), {})
    for code, response in responses.items():
        status = int(code)
        if status < 400 or _own_body(response):
            continue
        schema = schema_ref(ValidationProblem if status == 422 else Problem)
        response["content"] = {PROBLEM_JSON: {"schema": schema}}
        if response.get("description") in (None, "Validation Error", HTTPStatus(status).phrase):
            response["description"] = _DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
        if status == 503:
            response["headers"] = _RETRY_AFTER


def _own_body(response: dict[str, Any]) -> bool:
    """An error response a route declared with a model of its own (/readyz's 503), rather
    than a problem; FastAPI's HTTPValidationError is not one of those."""
    schemas = [media.get("schema", {}) for media in response.get("content", {}).values()]
    return any(s and "HTTPValidationError" not in s.get("$ref", "") for s in schemas)


def build_openapi(
    app: FastAPI,
    schemas: Iterable[type[BaseModel]] = (),
    components: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The document for `app`, with every error declared, and among the named schemas
    `schemas` (models that bodies parsed by hand refer to) and `components` (schemas that
    fields refer to by name, e.g. a long enum written once)."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    named = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        named.pop(name, None)
    models: tuple[type[BaseModel], ...] = (Problem, FieldError, ValidationProblem, *schemas)
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        named.update(schema.pop("$defs", {}))
        named[model.__name__] = schema
    named.update(components or {})
    for path_item in document["paths"].values():
        for operation in path_item.values():
            _declare_errors(operation)
    return _resolve_named(document)  # type: ignore[no-any-return]


def install_openapi(
    app: FastAPI,
    schemas: Iterable[type[BaseModel]] = (),
    components: dict[str, dict[str, Any]] | None = None,
) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, schemas, components)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
