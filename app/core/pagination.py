"""Keyset pagination with opaque cursors: stable under concurrent inserts, O(limit) per page."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Query
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import ValidationFailed

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (1–200).")]
Cursor = Annotated[
    str | None, Query(max_length=500, description="`next_cursor` of the previous page.")
]


def encode_cursor(values: Sequence[Any]) -> str:
    raw = orjson.dumps([str(v) if not isinstance(v, int | float) else v for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise ValidationFailed.at(["query", "cursor"], "malformed cursor")
    return values


async def paginate(
    session: AsyncSession,
    query: Select[T],
    *,
    keys: Sequence[InstrumentedAttribute[Any]],
    descending: bool = False,
    limit: int,
    cursor: str | None,
    parse: Sequence[Callable[[Any], Any]] | None = None,
) -> tuple[list[T], str | None]:
    """One page of `query` ordered by `keys` (a unique tuple); returns (rows, next_cursor)."""
    if cursor is not None:
        values = decode_cursor(cursor, len(keys))
        if parse is not None:
            try:
                values = [convert(v) for convert, v in zip(parse, values, strict=True)]
            except ValueError:
                raise ValidationFailed.at(["query", "cursor"], "malformed cursor") from None
        position = tuple_(*keys)
        query = query.where(position < tuple(values) if descending else position > tuple(values))
    order = [k.desc() if descending else k.asc() for k in keys]
    rows = list((await session.scalars(query.order_by(*order).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor([getattr(last, k.key) for k in keys])
