from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal, Self
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema, model_validator

from app.core.openapi import named
from app.core.schemas import (
    LongText,
    Name,
    Page,
    PatchBody,
    RequestBody,
    ResponseBody,
    ShortText,
    Timestamp,
    Weight,
)

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
ThresholdValue = Annotated[float, Field(strict=True, ge=0, le=200)]
ScoreCap = Annotated[float, Field(strict=True, ge=100, le=200)]


# The zones this server's tz database knows: the validator's list, and the document's.
IANA_ZONES = frozenset(available_timezones())
TIME_ZONE_SCHEMA = {
    "type": "string",
    "enum": sorted(IANA_ZONES),
    "description": "An IANA time zone name; periods are cut in this zone.",
}


def _iana_zone(name: str) -> str:
    if name not in IANA_ZONES:
        raise ValueError(f"unknown IANA time zone {name!r}, e.g. Europe/Berlin or UTC")
    return name


TimeZone = Annotated[
    str,
    AfterValidator(_iana_zone),
    WithJsonSchema(named("TimeZone")),
    Field(examples=["Europe/Berlin"]),
]


class Thresholds(RequestBody):
    """Status bands on the 0–score_cap scale: green if score ≥ green, amber if ≥ amber."""

    green: ThresholdValue = 90.0
    amber: ThresholdValue = 70.0

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.amber > self.green:
            raise ValueError("amber must not exceed green")
        return self


class Perspective(RequestBody):
    key: Key
    name: Name
    weight: Weight = 1.0


DEFAULT_PERSPECTIVES = [
    Perspective(key="financial", name="Financial"),
    Perspective(key="customer", name="Customer"),
    Perspective(key="internal_process", name="Internal process"),
    Perspective(key="learning_growth", name="Learning & growth"),
]


def _unique_keys(perspectives: list[Perspective]) -> list[Perspective]:
    keys = [p.key for p in perspectives]
    if len(set(keys)) != len(keys):
        raise ValueError("perspective keys must be unique")
    return perspectives


Perspectives = Annotated[
    list[Perspective], Field(min_length=1, max_length=20), AfterValidator(_unique_keys)
]


_LOCKED_BEFORE = (
    "Readings observed before this instant can no longer be created or deleted (closed "
    "periods); null: nothing is locked."
)


StatusName = Literal["green", "amber", "red", "no_data"]


def _unique_statuses(statuses: list[StatusName]) -> list[StatusName]:
    if len(set(statuses)) != len(statuses):
        raise ValueError("statuses must be unique")
    return statuses


CommentaryRequiredFor = Annotated[
    list[StatusName],
    Field(
        max_length=4,
        description="Statuses whose measures owe commentary for their period: a measure node "
        "with one of them and no commentary shows `commentary_missing: true`.",
    ),
    AfterValidator(_unique_statuses),
]


class ScorecardCreate(RequestBody):
    name: Name
    description: LongText | None = None
    owner: ShortText | None = None
    timezone: TimeZone = "UTC"
    thresholds: Thresholds = Field(default_factory=Thresholds)
    score_cap: ScoreCap = 100.0
    perspectives: Perspectives = Field(default_factory=lambda: list(DEFAULT_PERSPECTIVES))
    locked_before: Timestamp | None = Field(None, description=_LOCKED_BEFORE)
    commentary_required_for: CommentaryRequiredFor = Field(default_factory=list)


class ScorecardUpdate(PatchBody):
    name: Name | None = None
    description: LongText | None = None
    owner: ShortText | None = None
    timezone: TimeZone | None = None
    thresholds: Thresholds | None = None
    score_cap: ScoreCap | None = None
    perspectives: Perspectives | None = None
    locked_before: Timestamp | None = Field(
        None,
        description=_LOCKED_BEFORE
        + " Moving it later needs scope write; earlier or to null, admin.",
    )
    commentary_required_for: CommentaryRequiredFor | None = None

    REQUIRED: ClassVar[frozenset[str]] = frozenset(
        {"name", "timezone", "thresholds", "score_cap", "perspectives", "commentary_required_for"}
    )


class ThresholdsOut(ResponseBody):
    green: float
    amber: float


class PerspectiveOut(ResponseBody):
    key: str
    name: str
    weight: float


class ScorecardOut(ResponseBody):
    id: uuid.UUID
    name: str
    description: str | None
    owner: str | None
    timezone: str
    thresholds: ThresholdsOut
    score_cap: float
    perspectives: list[PerspectiveOut]
    locked_before: datetime | None = Field(description=_LOCKED_BEFORE)
    commentary_required_for: list[StatusName]
    version: int
    created_at: datetime
    updated_at: datetime


class ScorecardPage(Page[ScorecardOut]):
    """A page of scorecards."""


def _unique_ids(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    if len(set(ids)) != len(ids):
        raise ValueError("must not name an objective twice")
    return ids


_DRIVES = (
    "Objectives of the same scorecard this one drives (cause → effect): the arrows of the "
    "strategy map. No self-reference, no cycle."
)
Drives = Annotated[
    list[uuid.UUID],
    Field(max_length=100, json_schema_extra={"uniqueItems": True}, description=_DRIVES),
    AfterValidator(_unique_ids),
]


class ObjectiveCreate(RequestBody):
    perspective: Key
    name: Name
    description: LongText | None = None
    weight: Weight = 1.0
    drives: Drives = Field(default_factory=list)


class ObjectiveUpdate(PatchBody):
    perspective: Key | None = None
    name: Name | None = None
    description: LongText | None = None
    weight: Weight | None = None
    drives: Drives | None = None

    REQUIRED: ClassVar[frozenset[str]] = frozenset({"perspective", "name", "weight", "drives"})


class ObjectiveOut(ResponseBody):
    id: uuid.UUID
    scorecard_id: uuid.UUID
    perspective: str
    name: str
    description: str | None
    weight: float
    drives: list[uuid.UUID] = Field(description=_DRIVES + " Sorted.")
    version: int
    created_at: datetime
    updated_at: datetime


class ObjectivePage(Page[ObjectiveOut]):
    """A page of objectives."""
