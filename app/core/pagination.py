"""Keyset pagination with opaque cursors: stable under concurrent inserts, O(limit) per page.

One cursor codec for both data-access paths: `paginate` pages an ORM query, `Keyset` pages a
plain asyncpg statement (the hot reads in `app/*/queries.py`); a cursor names the same position
in the same form either way."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Query
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import ValidationFailed
from app.core.schemas import check_timestamp_range

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (1–200).")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=500,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="`next_cursor` of the previous page, as it came (a cursor the service did "
        "not issue → 422).",
    ),
]
# A key column: an ORM attribute, or (for plain statements) the Python type of its values.
KeyColumn = InstrumentedAttribute[Any] | type
Keys = Sequence[InstrumentedAttribute[Any]]


def encode_cursor(values: Sequence[Any]) -> str:
    raw = orjson.dumps([str(v) for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[KeyColumn]) -> list[Any]:
    """The position a cursor names, one value per key column, each parsed as that column's
    type. Anything the service could not have issued → 422, never a query that fails."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError("wrong shape")
        return [_parse(key, value) for key, value in zip(keys, values, strict=True)]
    except (ValueError, TypeError):  # binascii.Error and orjson's errors are ValueErrors
        raise ValidationFailed.at(
            ["query", "cursor"], "not a cursor this list issued: pass next_cursor as it came"
        ) from None


def _parse(key: KeyColumn, value: Any) -> Any:
    if not isinstance(value, str):
        raise TypeError(value)
    kind = key if isinstance(key, type) else key.type.python_type
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is datetime:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(value)
        return check_timestamp_range(moment)
    raise TypeError(f"no cursor type for {kind}")  # a programming error, caught by tests


async def paginate(
    session: AsyncSession,
    query: Select[T],
    *,
    keys: Keys,
    descending: bool = False,
    limit: int,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    """One page of `query` ordered by `keys` (a unique tuple of uuid and timestamp columns);
    returns (rows, next_cursor)."""
    if cursor:  # `?cursor=` (empty) is the first page, as an absent one
        position = tuple_(*keys)
        values = tuple(decode_cursor(cursor, keys))
        query = query.where(position < values if descending else position > values)
    order = [k.desc() if descending else k.asc() for k in keys]
    rows = list((await session.scalars(query.order_by(*order).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor([getattr(last, k.key) for k in keys])


@dataclass(frozen=True, slots=True)
class Keyset:
    """Keyset pagination for a plain SQL statement: `columns` (a unique tuple, as SQL names
    that are also the result's column names) with the Python type of each, for cursors."""

    columns: tuple[str, ...]
    types: tuple[type, ...]
    descending: bool = False

    async def fetch_page(
        self,
        connection: Any,
        select_from: str,
        conditions: Sequence[str],
        params: Sequence[Any],
        *,
        limit: int,
        cursor: str | None,
    ) -> tuple[Any, str | None]:
        """One page of `select_from` ("SELECT … FROM table") where all `conditions` hold (with
        `params` as $1…), past `cursor` (empty or None: the first page): (rows, next_cursor)."""
        conditions, params = list(conditions), list(params)
        if cursor:  # `?cursor=` (empty) is the first page, as an absent one
            condition, values = self.after(cursor, len(params) + 1)
            conditions.append(condition)
            params.extend(values)
        params.append(limit + 1)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = await connection.fetch(
            f"{select_from}{where} ORDER BY {self.order_by} LIMIT ${len(params)}", *params
        )
        return self.page(rows, limit)

    def after(self, cursor: str, first_param: int) -> tuple[str, list[Any]]:
        """The condition for "past this cursor" with parameters from `$first_param`, and
        their values (422 for a cursor this list did not issue)."""
        values = decode_cursor(cursor, self.types)
        params = ", ".join(f"${first_param + i}" for i in range(len(values)))
        op = "<" if self.descending else ">"
        return f"({', '.join(self.columns)}) {op} ({params})", values

    @property
    def order_by(self) -> str:
        direction = " DESC" if self.descending else ""
        return ", ".join(f"{column}{direction}" for column in self.columns)

    def page(self, rows: Sequence[Mapping[str, Any]], limit: int) -> tuple[Any, str | None]:
        """(the page's rows, next_cursor) from up to `limit + 1` fetched rows."""
        if len(rows) <= limit:
            return rows, None
        rows = rows[:limit]
        return rows, encode_cursor([rows[-1][column] for column in self.columns])
