from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

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
from app.scores.schemas import PeriodOut

Value = Annotated[Number, Field(description="A finite JSON number, |value| ≤ 10^15.")]
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=PRINTABLE),
    Field(description="Your id for this reading; retries with the same id are idempotent."),
]
Source = ShortText
Subject = Annotated[
    str,
    StringConstraints(max_length=200, pattern=PRINTABLE),
    Field(
        description="Who the reading is about, e.g. a learner; the aggregation "
        "distinct_subjects counts them.",
        examples=["mailto:ada@example.com"],
    ),
]


class ReadingCreate(RequestBody):
    value: Value
    observed_at: Timestamp = Field(description="RFC 3339 with an offset.")
    source: Source | None = None
    external_id: ExternalId | None = None
    note: LongText | None = None
    subject: Subject | None = None


class ReadingOut(ResponseBody):
    id: uuid.UUID
    measure_id: uuid.UUID
    value: float
    observed_at: datetime
    source: str | None
    external_id: str | None
    note: str | None
    subject: str | None
    created_at: datetime


class ReadingPage(Page[ReadingOut]):
    """A page of readings, newest first."""


class DueReadingOut(ResponseBody):
    """A scheduled measure whose last ended period has no reading yet."""

    measure_id: uuid.UUID
    measure_key: str
    scorecard_id: uuid.UUID
    owner: str | None
    period: PeriodOut = Field(description="The measure's last period that has ended.")
    due_at: datetime = Field(
        description="Local midnight in the scorecard's zone, due_after_days after the end."
    )
    state: Literal["due", "overdue"] = Field(description="due while as_of < due_at.")


class DueReadingPage(Page[DueReadingOut]):
    """A page of readings owed, by measure."""
