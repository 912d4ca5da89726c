"""The hot read path: plain asyncpg statements (`app/<domain>/queries.py`, on the app's read
pool) whose rows are written straight to a JSON `Response`, with no ORM session and no
response-model validation. The `*Out` models still document these responses in the OpenAPI;
tests pin that the bytes are exactly what serialising those models would give.

Rows are turned into dicts in the `*Out` models' field order; jsonb columns (which asyncpg
returns as text here) are parsed and shaped as their `*Out` models would shape them."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import Response

from app.core.http import etag

# Aware datetimes from PostgreSQL are UTC: "…Z", as pydantic writes them.
_OPTIONS = orjson.OPT_UTC_Z


def _default(value: Any) -> str:
    """asyncpg's own uuid.UUID subclass, which orjson does not take for a UUID."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, default=_default, option=_OPTIONS)


def json_response(content: Any, *, version: int | None = None) -> Response:
    """`content` as application/json; with `version`, its `ETag`."""
    response = Response(dumps(content), media_type="application/json")
    if version is not None:
        response.headers["ETag"] = etag(version)
    return response


def page_response(items: list[dict[str, Any]], next_cursor: str | None) -> Response:
    return json_response({"items": items, "next_cursor": next_cursor})


def jsonb(text: str | None) -> Any:
    """A jsonb column's value (SQL NULL and JSON null both → None)."""
    return None if text is None else orjson.loads(text)
