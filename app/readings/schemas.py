from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

from app.core.schemas import LongText, RequestBody, ResponseBody

Value = Annotated[float, Field(ge=-1e15, le=1e15, description="A finite number.")]
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    Field(description="Your id for this reading; retries with the same id are idempotent."),
]
Source = Annotated[str, StringConstraints(max_length=200)]


class ReadingCreate(RequestBody):
    value: Value
    observed_at: AwareDatetime = Field(description="RFC 3339 with an offset.")
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
