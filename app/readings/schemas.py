from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import (
    PRINTABLE,
    LongText,
    Number,
    Page,
    RequestBody,
    ResponseBody,
    ShortText,
    Timestamp,
)

Value = Annotated[Number, Field(description="A finite JSON number, |value| ≤ 10^15.")]
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=PRINTABLE),
    Field(description="Your id for this reading; retries with the same id are idempotent."),
]
Source = ShortText


class ReadingCreate(RequestBody):
    value: Value
    observed_at: Timestamp = Field(description="RFC 3339 with an offset.")
    source: Source | None = None
    external_id: ExternalId | None = None
    note: LongText | None = None


class ReadingOut(ResponseBody):
    id: uuid.UUID
    measure_id: uuid.UUID
    value: float
    observed_at: datetime
    source: str | None
    external_id: str | None
    note: str | None
    created_at: datetime


class ReadingPage(Page[ReadingOut]):
    """A page of readings, newest first."""
