"""Request and response bodies of initiatives."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Self

import iso4217
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    WithJsonSchema,
    model_validator,
)

from app.core.openapi import named
from app.core.schemas import (
    NUMBER_BOUND,
    LongText,
    Name,
    Page,
    PatchBody,
    RequestBody,
    ResponseBody,
    ShortText,
)
from app.scoring import InitiativeStatus

# Currencies of ISO 4217 that have a minor unit: every currency money is kept in, without the
# codes for testing (XTS), "no currency" (XXX), precious metals and bond-market units.
CURRENCIES = frozenset(c.code for c in iso4217.Currency if c.exponent is not None)
CURRENCY_SCHEMA = {
    "type": "string",
    "enum": sorted(CURRENCIES),
    "description": "An ISO 4217 currency code, e.g. EUR.",
}


def _currency(code: str) -> str:
    if code not in CURRENCIES:
        raise ValueError(f"unknown ISO 4217 currency code {code!r}, e.g. EUR or USD")
    return code


Currency = Annotated[
    str,
    AfterValidator(_currency),
    WithJsonSchema(named("Currency")),
    Field(examples=["EUR"]),
]

# Dates are calendar days ("2026-03-01"), strings only, in the years timestamps may have.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2200, 1, 1)  # exclusive


def _date_string(value: Any) -> Any:
    """pydantic also reads numbers as Unix times and timestamps as dates; a date here is an
    ISO 8601 calendar date string (or, from Python code, a date)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return value
    raise ValueError("must be an ISO 8601 date string, e.g. 2026-03-01")


def _date_range(value: date) -> date:
    if not EARLIEST_DATE <= value < LATEST_DATE:
        raise ValueError("must lie in [1900-01-01, 2200-01-01)")
    return value


Day = Annotated[
    date,
    BeforeValidator(_date_string),
    AfterValidator(_date_range),
    Field(examples=["2026-03-01"], json_schema_extra={"pattern": r"^(19|2[01])\d\d-\d\d-\d\d$"}),
]
Amount = Annotated[float, Field(strict=True, ge=0, le=NUMBER_BOUND)]
Progress = Annotated[float, Field(strict=True, ge=0, le=100)]


def _unique(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    if len(set(ids)) != len(ids):
        raise ValueError("must not name an id twice")
    return ids


LinkedIds = Annotated[
    list[uuid.UUID],
    Field(max_length=200, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_unique),
]


class Budget(RequestBody):
    planned: Amount
    spent: Amount
    currency: Currency


class InitiativeCreate(RequestBody):
    name: Name
    description: LongText | None = None
    owner: ShortText | None = None
    objective_ids: LinkedIds = Field(default_factory=list)
    measure_ids: LinkedIds = Field(default_factory=list)
    start_date: Day
    end_date: Day
    status: InitiativeStatus = InitiativeStatus.planned
    progress: Progress = 0
    budget: Budget | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start_date > self.end_date:
            raise ValueError("start_date must not be after end_date")
        return self


class InitiativeUpdate(PatchBody):
    """start_date ≤ end_date is checked against the stored dates too (422)."""

    name: Name | None = None
    description: LongText | None = None
    owner: ShortText | None = None
    objective_ids: LinkedIds | None = None
    measure_ids: LinkedIds | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    status: InitiativeStatus | None = None
    progress: Progress | None = None
    budget: Budget | None = None

    REQUIRED: ClassVar[frozenset[str]] = frozenset(
        {"name", "objective_ids", "measure_ids", "start_date", "end_date", "status", "progress"}
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValueError("start_date must not be after end_date")
        return self


class BudgetOut(ResponseBody):
    planned: float
    spent: float
    currency: str


class InitiativeOut(ResponseBody):
    id: uuid.UUID
    scorecard_id: uuid.UUID
    name: str
    description: str | None
    owner: str | None
    objective_ids: list[uuid.UUID]
    measure_ids: list[uuid.UUID]
    start_date: date
    end_date: date
    status: InitiativeStatus
    progress: float
    budget: BudgetOut | None
    version: int
    created_at: datetime
    updated_at: datetime


class InitiativePage(Page[InitiativeOut]):
    """A page of initiatives."""


class BudgetTotal(ResponseBody):
    currency: str
    planned: float
    spent: float


class InitiativeCountByStatus(ResponseBody):
    """How many of the scorecard's initiatives are in each status (every status, 0 included)."""

    planned: int
    on_track: int
    at_risk: int
    off_track: int
    done: int
    cancelled: int


class InitiativeSummary(ResponseBody):
    by_status: InitiativeCountByStatus
    budget: list[BudgetTotal] = Field(
        description="Planned and spent totals per currency (never added across currencies), "
        "by currency code."
    )
    red_measures_without_initiative: list[uuid.UUID] = Field(
        description="Measures red at as_of that no active initiative covers (the score tree's "
        "needs_initiative), in creation order."
    )
