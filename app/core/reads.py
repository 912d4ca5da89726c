"""The hot read path: PostgreSQL writes the JSON.

A hot read (`app/<domain>/queries.py`, on the app's read pool) selects each row's API
representation as one compact JSON text, built by the statement itself from a field list
written with the helpers below, and the endpoint sends those bytes as they are: no record
decoding into Python objects, no dicts, no serialisation in the web process. The `*Out`
models still document these responses in the OpenAPI; tests pin that what the statements
write reads back as exactly what those models would serialise.

Conventions, as the rest of the API writes them: fields in the `*Out` model's order;
timestamps RFC 3339 in UTC with `Z` (microseconds only when there are any); numbers as the
models write floats (`1.0`, not `1`). So a resource reads the same from every endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Response

from app.core.http import etag
from app.core.jsonutil import dumps

_UTC = "({0} AT TIME ZONE 'UTC')"


def timestamp(sql: str, name: str) -> str:
    """The timestamptz `sql` as the API writes it, e.g. `2026-03-01T09:30:00Z` or
    `2026-03-01T09:30:00.250000Z`."""
    utc = _UTC.format(sql)
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
        f"date_part('microseconds', {sql})::int % 1000000 = 0 THEN 'Z' "
        f"ELSE to_char({utc}, '.US\"Z\"') END AS {name}"
    )


def number(sql: str, name: str) -> str:
    """The float8 `sql` as a JSON number written exactly as the response models write it
    (`1.0`, `0.5`, `0.00001`, `1e-7`; SQL NULL → null). PostgreSQL's shortest round-trip
    digits are the same; only the notation is adjusted. Exact for |x| < 1e16, which covers
    every stored number (they are bounded by ±1e15)."""
    return (
        f"(CASE WHEN {sql} = trunc({sql}) AND abs({sql}) < 1e15 THEN {sql}::text || '.0' "
        f"WHEN {sql} = trunc({sql}) AND abs({sql}) < 1e16 THEN {sql}::bigint::text || '.0' "
        f"WHEN abs({sql}) >= 1e-4 AND abs({sql}) < 1e15 THEN {sql}::text "
        # 8.5e-05 → 0.000085; 1e-07 → 1e-7
        rf"ELSE regexp_replace(regexp_replace({sql}::text, '^(-?)(\d)\.?(\d*)e-05$', "
        rf"'\10.0000\2\3'), 'e([-+])0*(\d)', 'e\1\2') END)::json AS {name}"
    )


def json_object(fields: Sequence[str], name: str, *, null_when: str | None = None) -> str:
    """A nested object of `fields` (select-list items); null when the SQL `null_when` holds."""
    built = f"(SELECT row_to_json(o) FROM (SELECT {', '.join(fields)}) o)"
    if null_when is not None:
        built = f"CASE WHEN {null_when} THEN NULL ELSE {built} END"
    return f"{built} AS {name}"


def representation(fields: Sequence[str]) -> str:
    """The select-list item `body`: one row's representation as compact JSON text."""
    return f"(SELECT row_to_json(r) FROM (SELECT {', '.join(fields)}) r)::text AS body"


def json_response(body: str, *, version: int | None = None) -> Response:
    """A representation (`body`) as application/json; with `version`, its `ETag`."""
    response = Response(body.encode(), media_type="application/json")
    if version is not None:
        response.headers["ETag"] = etag(version)
    return response


def page_response(bodies: Sequence[str], next_cursor: str | None) -> Response:
    """A page `{"items": [...], "next_cursor": ...}` of representations."""
    content = '{"items":[' + ",".join(bodies) + '],"next_cursor":'
    return Response(content.encode() + dumps(next_cursor) + b"}", media_type="application/json")


def bodies(rows: Sequence[Any]) -> list[str]:
    return [row["body"] for row in rows]
