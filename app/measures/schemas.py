from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, StrictBool, StringConstraints, model_validator

from app.core.schemas import (
    PRINTABLE,
    Iri,
    LongText,
    Name,
    Number,
    Page,
    PatchBody,
    RequestBody,
    ResponseBody,
    ShortText,
    Unit,
    Weight,
)
from app.scorecards.schemas import Key, Thresholds, ThresholdsOut
from app.scoring import Aggregation, Cadence, Direction, FormulaError, parse_formula


class Level(StrEnum):
    """Kirkpatrick levels 1–4 and Phillips ROI."""

    reaction = "reaction"
    learning = "learning"
    behavior = "behavior"
    results = "results"
    roi = "roi"


def _formula_syntax(text: str) -> str:
    try:
        parse_formula(text)
    except FormulaError as exc:
        raise ValueError(str(exc)) from None
    return text


FormulaText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1000, pattern=PRINTABLE),
    AfterValidator(_formula_syntax),
    Field(examples=["completed / enrolled * 100"]),
]


class XapiMapping(RequestBody):
    """Turns matching xAPI statements into readings of this measure."""

    verb: Iri = Field(examples=["http://adlnet.gov/expapi/verbs/completed"])
    activity_id_prefix: Iri | None = None
    value: Literal["count", "score_scaled", "score_raw", "success"] = "count"


DEFINITION_FIELDS = (
    "direction",
    "baseline",
    "target",
    "target_min",
    "target_max",
    "tolerance",
    "aggregation",
    "prorate",
    "formula",
    "xapi",
)


def definition_errors(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Cross-field rules of a measure definition (docs/api.md, Measures), as 422 `errors` entries.
    Used on create and on the merged result of a PATCH."""
    errors: list[dict[str, Any]] = []

    def bad(field: str, message: str) -> None:
        errors.append({"loc": ["body", field], "message": message})

    direction = fields.get("direction")
    baseline, target = fields.get("baseline"), fields.get("target")
    if direction in (Direction.increase, Direction.decrease):
        if baseline is None:
            bad("baseline", f"required when direction is {direction}")
        if target is None:
            bad("target", f"required when direction is {direction}")
        if baseline is not None and target is not None:
            if direction == Direction.increase and not target > baseline:
                bad("target", "must be greater than baseline when direction is increase")
            if direction == Direction.decrease and not target < baseline:
                bad("target", "must be less than baseline when direction is decrease")
    elif direction == Direction.range:
        low, high, tolerance = (fields.get(k) for k in ("target_min", "target_max", "tolerance"))
        for name, value in (("target_min", low), ("target_max", high), ("tolerance", tolerance)):
            if value is None:
                bad(name, "required when direction is range")
        if low is not None and high is not None and low > high:
            bad("target_max", "must be at least target_min")
        if tolerance is not None and tolerance <= 0:
            bad("tolerance", "must be greater than 0")
    if fields.get("prorate") and fields.get("aggregation") not in (
        Aggregation.sum,
        Aggregation.count,
    ):
        bad("prorate", "only applies to sum and count aggregations")
    if fields.get("formula") and fields.get("xapi"):
        bad("xapi", "a derived measure (with a formula) takes no readings, so no xAPI mapping")
    return errors


class MeasureCreate(RequestBody):
    key: Key
    name: Name
    description: LongText | None = None
    unit: Unit | None = None
    owner: ShortText | None = None
    perspective: Key | None = Field(None, description="Required unless objective_id is given.")
    objective_id: uuid.UUID | None = None
    weight: Weight = 1.0
    direction: Direction
    baseline: Number | None = None
    target: Number | None = None
    target_min: Number | None = None
    target_max: Number | None = None
    tolerance: Number | None = None
    aggregation: Aggregation = Aggregation.latest
    cadence: Cadence = Cadence.month
    prorate: StrictBool = False
    thresholds: Thresholds | None = None
    formula: FormulaText | None = None
    xapi: XapiMapping | None = None
    level: Level | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        errors = definition_errors(self.model_dump())
        if self.perspective is None and self.objective_id is None:
            errors.append(
                {"loc": ["body", "perspective"], "message": "required unless objective_id is given"}
            )
        if errors:
            raise ValueError("; ".join(f"{e['loc'][-1]}: {e['message']}" for e in errors))
        return self


class MeasureUpdate(PatchBody):
    key: Key | None = None
    name: Name | None = None
    description: LongText | None = None
    unit: Unit | None = None
    owner: ShortText | None = None
    perspective: Key | None = None
    objective_id: uuid.UUID | None = None
    weight: Weight | None = None
    direction: Direction | None = None
    baseline: Number | None = None
    target: Number | None = None
    target_min: Number | None = None
    target_max: Number | None = None
    tolerance: Number | None = None
    aggregation: Aggregation | None = None
    cadence: Cadence | None = None
    prorate: StrictBool | None = None
    thresholds: Thresholds | None = None
    formula: FormulaText | None = None
    xapi: XapiMapping | None = None
    level: Level | None = None

    REQUIRED: ClassVar[frozenset[str]] = frozenset(
        {"key", "name", "perspective", "weight", "direction", "aggregation", "cadence", "prorate"}
    )


class XapiMappingOut(ResponseBody):
    verb: str
    activity_id_prefix: str | None
    value: str


class MeasureOut(ResponseBody):
    id: uuid.UUID
    scorecard_id: uuid.UUID
    key: str
    name: str
    description: str | None
    unit: str | None
    owner: str | None
    perspective: str
    objective_id: uuid.UUID | None
    weight: float
    direction: Direction
    baseline: float | None
    target: float | None
    target_min: float | None
    target_max: float | None
    tolerance: float | None
    aggregation: Aggregation
    cadence: Cadence
    prorate: bool
    thresholds: ThresholdsOut | None
    formula: str | None
    xapi: XapiMappingOut | None
    level: Level | None
    status: Literal["green", "amber", "red", "no_data"] = Field(
        description="Status as last evaluated (read-only)."
    )
    version: int
    created_at: datetime
    updated_at: datetime


class MeasurePage(Page[MeasureOut]):
    """A page of measures."""
