"""The hot read path: plain asyncpg statements (`app/<domain>/queries.py`, on the app's read
pool) whose rows are written straight to a JSON `Response`, with no ORM session and no
response-model validation. The `*Out` models still document these responses in the OpenAPI;
tests pin that the bytes are exactly what serialising those models would give.

Rows are turned into dicts in the `*Out` models' field order; jsonb columns (which asyncpg
returns as text here) are parsed and shaped as their `*Out` models would shape them."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from app.core.http import etag
from app.core.jsonutil import dumps, loads


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
    return None if text is None else loads(text)
