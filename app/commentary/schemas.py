from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.core.schemas import LongText, Page, RequestBody, ResponseBody
from app.scores.schemas import PeriodOut


class CommentaryWrite(RequestBody):
    """The whole commentary of the period: a field left out is stored as null."""

    analysis: LongText | None = Field(
        default=None, description="What happened and why (up to 10,000 characters)."
    )
    actions: LongText | None = Field(
        default=None, description="What the team will do about it (up to 10,000 characters)."
    )


class CommentaryOut(ResponseBody):
    measure_id: uuid.UUID
    period: PeriodOut
    analysis: str | None
    actions: str | None
    author: str = Field(description="The name of the API key that last wrote it.")
    version: int
    created_at: datetime
    updated_at: datetime


class CommentaryPage(Page[CommentaryOut]):
    """A page of a measure's commentary, oldest period first."""
