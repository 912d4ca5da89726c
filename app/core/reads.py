"""The hot read path: PostgreSQL writes the JSON.

A hot read (`app/<domain>/queries.py`, on the app's read pool) selects each row's API
representation as one JSON text, concatenated by the statement itself from a list of typed
fields written with the helpers below, and the endpoint sends those bytes as they are: no
record decoding into Python objects, no dicts, no serialisation in the web process. (Plain
concatenation costs PostgreSQL about a third of `row_to_json`, measured.) The `*Out` models
still document these responses in the OpenAPI; tests pin that the bytes are exactly what
serialising those models would give.

Conventions, as the models write them: fields in the model's order; timestamps RFC 3339 in
UTC with `Z`, with microseconds when there are any; floats with a fraction (`1.0`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from asyncpg import Record
from fastapi import Response

from app.core.http import etag
from app.core.jsonutil import dumps, loads


class Reader(Protocol):
    """What a hot read runs its statements on: an asyncpg connection, or the endpoint's
    `ReadAccess` (which checks the caller's key with the first statement)."""

    async def fetch(self, sql: str, /, *args: Any) -> list[Record]: ...

    async def fetchrow(self, sql: str, /, *args: Any) -> Record | None: ...

    async def fetchval(self, sql: str, /, *args: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Field:
    """One member of a representation: `sql` yields its JSON text, or NULL for null."""

    name: str
    sql: str


def identifier(name: str, sql: str | None = None) -> Field:
    """A UUID, as a JSON string."""
    return Field(name, f"'\"' || {sql or name}::text || '\"'")


def text(name: str, sql: str | None = None) -> Field:
    """A string, escaped as JSON."""
    return Field(name, f"to_json({sql or name}::text)::text")


def integer(name: str, sql: str | None = None) -> Field:
    return Field(name, f"{sql or name}::text")


def boolean(name: str, sql: str | None = None) -> Field:
    sql = sql or name
    return Field(name, f"CASE WHEN {sql} THEN 'true' WHEN NOT {sql} THEN 'false' END")


def number(name: str, sql: str | None = None) -> Field:
    """A float8 written exactly as the response models write it (`1.0`, `0.5`, `0.00001`,
    `1e-7`). PostgreSQL's shortest round-trip digits are the same (the read pool pins
    extra_float_digits); only the notation is adjusted. Exact for |x| < 1e16, which covers
    every stored number (bounded by ±1e15)."""
    x = sql or name
    return Field(
        name,
        f"CASE WHEN {x} = trunc({x}) AND abs({x}) < 1e15 THEN {x}::text || '.0' "
        f"WHEN {x} = trunc({x}) AND abs({x}) < 1e16 THEN {x}::bigint::text || '.0' "
        f"WHEN abs({x}) >= 1e-4 AND abs({x}) < 1e15 THEN {x}::text "
        # 8.5e-05 → 0.000085; 1e-07 → 1e-7
        rf"ELSE regexp_replace(regexp_replace({x}::text, '^(-?)(\d)\.?(\d*)e-05$', "
        rf"'\10.0000\2\3'), 'e([-+])0*(\d)', 'e\1\2') END",
    )


def timestamp(name: str, sql: str | None = None) -> Field:
    """A timestamptz as `2026-03-01T09:30:00Z` or `2026-03-01T09:30:00.250000Z`: one to_char,
    its zero fraction dropped (a third cheaper than padding the ISO text form, measured)."""
    utc = f"({sql or name} AT TIME ZONE 'UTC')"
    return Field(
        name,
        f"""'"' || replace(to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '.000000Z', 'Z')"""
        """ || '"'""",
    )


def json_object(fields: Sequence[Field]) -> str:
    """SQL concatenating `fields` into one JSON object's text."""
    parts = []
    for position, field in enumerate(fields):
        opening = "{" if position == 0 else ","
        parts += [f"'{opening}\"{field.name}\":'", f"COALESCE({field.sql}, 'null')"]
    return f"concat({', '.join(parts)}, '}}')"


def _null_or(jsonb: str, built: str) -> str:
    return f"CASE WHEN {jsonb} IS NULL OR {jsonb} = 'null' THEN NULL ELSE {built} END"


def nested(name: str, fields: Sequence[Field], *, of: str | None = None) -> Field:
    """An object member written with `fields`; with `of` (the stored jsonb it is read from),
    null when that is SQL NULL or JSON null."""
    built = json_object(fields)
    return Field(name, built if of is None else _null_or(of, built))


def object_array(name: str, jsonb: str, columns: str, element: Sequence[Field]) -> Field:
    """A stored jsonb array of objects, in stored order, each read as a record of `columns`
    (`"key text, weight float8"`: each member extracted and cast once) and written with the
    `element` fields over it, as `e.key`; SQL NULL or JSON null → null."""
    names = ", ".join(column.split()[0] for column in columns.split(","))
    built = (
        f"(SELECT '[' || coalesce(string_agg({json_object(element)}, ',' ORDER BY e.position),"
        f" '') || ']' FROM ROWS FROM (jsonb_to_recordset({jsonb}) AS ({columns})) "
        f"WITH ORDINALITY AS e({names}, position))"
    )
    return Field(name, _null_or(jsonb, built))


def enum_array(name: str) -> Field:
    """A stored jsonb array of enum values (names with nothing JSON escapes and no ", "):
    its text without the spaces jsonb writes after commas."""
    return Field(name, f"replace({name}::text, ', ', ',')")


def representation(fields: Sequence[Field]) -> str:
    """The select-list item `body`: a row's representation as JSON text."""
    return f"{json_object(fields)} AS body"


def json_response(content: Any, *, version: int | None = None) -> Response:
    """`content` (Python values) as application/json; with `version`, its `ETag`."""
    return _with_version(Response(dumps(content), media_type="application/json"), version)


def page_response(items: Sequence[Any], next_cursor: str | None) -> Response:
    """A page `{"items": [...], "next_cursor": ...}` of Python values."""
    return json_response({"items": items, "next_cursor": next_cursor})


def body_response(body: str, *, version: int | None = None) -> Response:
    """A representation the statement wrote (`body`) as application/json, sent as it is."""
    return _with_version(Response(body.encode(), media_type="application/json"), version)


def bodies_page(bodies: Sequence[str], next_cursor: str | None) -> Response:
    """A page `{"items": [...], "next_cursor": ...}` of representations the statement wrote."""
    content = '{"items":[' + ",".join(bodies) + '],"next_cursor":'
    return Response(content.encode() + dumps(next_cursor) + b"}", media_type="application/json")


def _with_version(response: Response, version: int | None) -> Response:
    if version is not None:
        response.headers["ETag"] = etag(version)
    return response


def bodies(rows: Sequence[Record]) -> list[str]:
    return [row["body"] for row in rows]


def jsonb(text: str | None) -> Any:
    """A jsonb column's value as asyncpg returns it (text): SQL NULL and JSON null → None."""
    return None if text is None else loads(text)
