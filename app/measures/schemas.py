from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_serializer,
    model_validator,
)

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
    Timestamp,
    Unit,
    Weight,
)
from app.scorecards.schemas import Key, Thresholds, ThresholdsOut
from app.scoring import Aggregation, Cadence, Direction, FormulaError, parse_formula
from app.scoring.model import SCHEDULED_FIELDS


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


MAX_MAPPING_VERBS = 20


def _distinct_verbs(verbs: list[str]) -> list[str]:
    if len(set(verbs)) != len(verbs):
        raise ValueError("must not name a verb twice")
    return verbs


VerbList = Annotated[
    list[Iri],
    Field(min_length=1, max_length=MAX_MAPPING_VERBS, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_distinct_verbs),
]
XapiValue = Literal["count", "score_scaled", "score_raw", "success", "duration_seconds"]


class XapiMapping(RequestBody):
    """Turns matching xAPI statements into readings of this measure."""

    verb: Iri | VerbList = Field(
        description=f"One verb IRI, or a list of up to {MAX_MAPPING_VERBS} (any of them matches).",
        examples=["http://adlnet.gov/expapi/verbs/completed"],
    )
    activity_id_prefix: Iri | None = None
    value: XapiValue = "count"


MAX_TARGET_STEPS = 120
# What a target step may give; each replaces the measure's own value from the step's start on.
STEP_FIELDS = SCHEDULED_FIELDS


class TargetStep(RequestBody):
    """From `from` on, the values given here replace the measure's own (null or left out: the
    measure's own stays) for every period that starts at or after it."""

    from_: Timestamp = Field(alias="from")
    baseline: Number | None = None
    target: Number | None = None
    target_min: Number | None = None
    target_max: Number | None = None
    thresholds: Thresholds | None = None

    @model_serializer
    def _stored(self) -> dict[str, Any]:
        """As stored (jsonb) and compared: `from` in RFC 3339, and only the values given."""
        step: dict[str, Any] = {"from": self.from_.isoformat()}
        for name in STEP_FIELDS:
            if (value := getattr(self, name)) is not None:
                step[name] = value.model_dump() if isinstance(value, Thresholds) else value
        return step


def _ascending(steps: list[TargetStep]) -> list[TargetStep]:
    for earlier, later in itertools.pairwise(steps):
        if not earlier.from_ < later.from_:
            raise ValueError(
                "target steps must be sorted by `from`, strictly ascending (no two alike); "
                f"{later.from_.isoformat()} comes after {earlier.from_.isoformat()}"
            )
    return steps


TargetSchedule = Annotated[
    list[TargetStep], Field(max_length=MAX_TARGET_STEPS), AfterValidator(_ascending)
]


class TargetStepOut(ResponseBody):
    from_: datetime = Field(alias="from")
    baseline: float | None
    target: float | None
    target_min: float | None
    target_max: float | None
    thresholds: ThresholdsOut | None


def target_steps_out(stored: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Stored steps as TargetStepOut serialises them (every field, null when not given)."""
    if stored is None:
        return None
    return [
        {
            "from": datetime.fromisoformat(step["from"])
            if isinstance(step["from"], str)
            else step["from"],
            **{
                name: None if (value := step.get(name)) is None else float(value)
                for name in ("baseline", "target", "target_min", "target_max")
            },
            "thresholds": None
            if (bands := step.get("thresholds")) is None
            else {"green": float(bands["green"]), "amber": float(bands["amber"])},
        }
        for step in stored
    ]


DueAfterDays = Annotated[int, Field(strict=True, ge=0, le=366)]
_TARGETS = (
    "Target schedule: for each period, the values of the last step whose `from` is at or "
    "before the period's start replace the measure's own."
)
_DUE = (
    "The reading for a period is due this many days after the period ends (local midnight in "
    "the scorecard's time zone); null: no schedule. Not for a derived measure."
)

_SOURCE = (
    "Makes a linked measure: its value comes from another measure (of any scorecard, over "
    "this measure's period) or is another scorecard's score, at the same instant, instead "
    "of from readings. Exactly one of `measure_id` and `scorecard_id`; null: none."
)


class MeasureSource(RequestBody):
    """Where a linked measure takes its value from: exactly one of the two."""

    measure_id: uuid.UUID | None = None
    scorecard_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.measure_id is None) == (self.scorecard_id is None):
            raise ValueError("give exactly one of measure_id and scorecard_id")
        return self


class MeasureSourceOut(ResponseBody):
    measure_id: uuid.UUID | None
    scorecard_id: uuid.UUID | None


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

    _direction_errors(fields, bad)
    for index, step in enumerate(fields.get("targets") or ()):
        # The rules hold for the values in effect from each step on, too.
        given = {k: v for k, v in step.items() if k in STEP_FIELDS and v is not None}

        def bad_in_step(field: str, message: str, index: int = index, given: Any = given) -> None:
            if field in given:
                errors.append({"loc": ["body", "targets", index, field], "message": message})
            else:
                errors.append(
                    {
                        "loc": ["body", "targets", index],
                        "message": f"from this step on, {field} {message}",
                    }
                )

        _direction_errors({**fields, **given}, bad_in_step)
    if fields.get("prorate") and fields.get("aggregation") not in (
        Aggregation.sum,
        Aggregation.count,
    ):
        bad("prorate", "only applies to sum and count aggregations")
    if fields.get("formula") and fields.get("xapi"):
        bad("xapi", "a derived measure (with a formula) takes no readings, so no xAPI mapping")
    if fields.get("formula") and fields.get("due_after_days") is not None:
        bad("due_after_days", "a derived measure (with a formula) takes no readings to be due")
    if fields.get("source"):
        linked = "a linked measure (with a source) takes its values from the source"
        if fields.get("formula"):
            bad("formula", f"{linked}, so no formula")
        if fields.get("xapi"):
            bad("xapi", f"{linked}, so no xAPI mapping")
        if fields.get("due_after_days") is not None:
            bad("due_after_days", f"{linked}, so no readings are due")
    return errors


def _direction_errors(fields: dict[str, Any], bad: Callable[[str, str], None]) -> None:
    """What the direction needs of baseline, target, target_min, target_max and tolerance."""
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
    source: MeasureSource | None = Field(None, description=_SOURCE)
    xapi: XapiMapping | None = None
    level: Level | None = None
    targets: TargetSchedule | None = Field(None, description=_TARGETS)
    due_after_days: DueAfterDays | None = Field(None, description=_DUE)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # The target steps are checked by the service, so their errors can name each step.
        errors = definition_errors(self.model_dump(exclude={"targets"}))
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
    source: MeasureSource | None = Field(None, description=_SOURCE)
    xapi: XapiMapping | None = None
    level: Level | None = None
    targets: TargetSchedule | None = Field(None, description=_TARGETS)
    due_after_days: DueAfterDays | None = Field(None, description=_DUE)

    REQUIRED: ClassVar[frozenset[str]] = frozenset(
        {"key", "name", "perspective", "weight", "direction", "aggregation", "cadence", "prorate"}
    )


class XapiMappingOut(ResponseBody):
    verb: str | list[str] = Field(description="As given: one IRI or a list.")
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
    source: MeasureSourceOut | None = Field(description=_SOURCE)
    xapi: XapiMappingOut | None
    level: Level | None
    targets: list[TargetStepOut] | None
    due_after_days: int | None
    status: Literal["green", "amber", "red", "no_data"] = Field(
        description="Status as last evaluated (read-only)."
    )
    version: int
    created_at: datetime
    updated_at: datetime

    @field_validator("targets", mode="before")
    @classmethod
    def _stored_steps(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(step, dict) for step in value):
            return target_steps_out(value)
        return value


class MeasurePage(Page[MeasureOut]):
    """A page of measures."""
