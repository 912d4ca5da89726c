"""What the engine is told about a scorecard: plain, validated definitions (no ORM, no HTTP).

The constructors check the rules of docs/scoring.md and raise ValueError, so a definition that
reaches the engine always has what its direction needs.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from uuid import UUID
from zoneinfo import ZoneInfo

from app.scoring.formula import KEY_PATTERN, Formula, evaluation_order
from app.scoring.periods import Cadence


class Direction(StrEnum):
    increase = "increase"
    decrease = "decrease"
    range = "range"


class Aggregation(StrEnum):
    latest = "latest"
    sum = "sum"
    mean = "mean"
    min = "min"
    max = "max"
    count = "count"  # type: ignore[assignment]  # the member shadows str.count, on purpose


class Status(StrEnum):
    green = "green"
    amber = "amber"
    red = "red"
    no_data = "no_data"


@dataclass(frozen=True)
class Thresholds:
    green: float = 90
    amber: float = 70

    def __post_init__(self) -> None:
        if not (math.isfinite(self.green) and math.isfinite(self.amber)):
            raise ValueError("thresholds must be finite")
        if self.amber > self.green:
            raise ValueError("thresholds.amber must not exceed thresholds.green")


@dataclass(frozen=True)
class MeasureDefinition:
    id: UUID
    key: str
    name: str
    unit: str | None
    weight: float
    perspective: str
    objective_id: UUID | None
    direction: Direction
    aggregation: Aggregation
    cadence: Cadence
    baseline: float | None = None
    target: float | None = None
    target_min: float | None = None
    target_max: float | None = None
    tolerance: float | None = None
    prorate: bool = False
    thresholds: Thresholds | None = None
    formula: Formula | None = None  # set for a derived measure

    def __post_init__(self) -> None:
        if not KEY_PATTERN.fullmatch(self.key):
            raise ValueError(f"measure key {self.key!r} must match {KEY_PATTERN.pattern}")
        _require_weight(self.weight, f"measure {self.key!r}")
        if self.direction is Direction.range:
            self._check_range()
        else:
            self._check_baseline_and_target()
        if self.prorate and self.aggregation not in (Aggregation.sum, Aggregation.count):
            raise ValueError(f"measure {self.key!r}: prorate needs aggregation sum or count")

    def _check_baseline_and_target(self) -> None:
        if self.baseline is None or self.target is None:
            raise ValueError(f"measure {self.key!r}: {self.direction} needs baseline and target")
        if self.direction is Direction.increase and not self.target > self.baseline:
            raise ValueError(f"measure {self.key!r}: increase needs target > baseline")
        if self.direction is Direction.decrease and not self.target < self.baseline:
            raise ValueError(f"measure {self.key!r}: decrease needs target < baseline")

    def _check_range(self) -> None:
        if self.target_min is None or self.target_max is None or self.tolerance is None:
            raise ValueError(
                f"measure {self.key!r}: range needs target_min, target_max and tolerance"
            )
        if not self.target_min <= self.target_max:
            raise ValueError(f"measure {self.key!r}: range needs target_min <= target_max")
        if not self.tolerance > 0:
            raise ValueError(f"measure {self.key!r}: range needs tolerance > 0")


@dataclass(frozen=True)
class ObjectiveDefinition:
    id: UUID
    name: str
    perspective: str
    weight: float

    def __post_init__(self) -> None:
        _require_weight(self.weight, f"objective {self.name!r}")


@dataclass(frozen=True)
class PerspectiveDefinition:
    key: str
    name: str
    weight: float

    def __post_init__(self) -> None:
        _require_weight(self.weight, f"perspective {self.key!r}")


@dataclass(frozen=True)
class ScorecardDefinition:
    """A whole scorecard. The order of each sequence is the display order of the results."""

    id: UUID
    timezone: ZoneInfo
    thresholds: Thresholds
    score_cap: float
    perspectives: Sequence[PerspectiveDefinition]
    objectives: Sequence[ObjectiveDefinition]
    measures: Sequence[MeasureDefinition]
    # A measure whose status is listed owes commentary for its period (`commentary_missing`).
    commentary_required_for: frozenset[Status] = frozenset()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.score_cap) and self.score_cap > 0):
            raise ValueError("score_cap must be a positive finite number")
        perspective_keys = {p.key for p in self.perspectives}
        _require_unique([p.key for p in self.perspectives], "perspective key")
        _require_unique([o.id for o in self.objectives], "objective id")
        _require_unique([m.id for m in self.measures], "measure id")
        _require_unique([m.key for m in self.measures], "measure key")
        objectives = {o.id: o for o in self.objectives}
        for objective in self.objectives:
            if objective.perspective not in perspective_keys:
                raise ValueError(f"objective {objective.name!r}: unknown perspective")
        for measure in self.measures:
            if measure.perspective not in perspective_keys:
                raise ValueError(f"measure {measure.key!r}: unknown perspective")
            if measure.objective_id is None:
                continue
            parent = objectives.get(measure.objective_id)
            if parent is None:
                raise ValueError(f"measure {measure.key!r}: unknown objective")
            if parent.perspective != measure.perspective:
                raise ValueError(f"measure {measure.key!r}: perspective differs from objective's")
        self.formula_order  # noqa: B018 (computed now, so unknown keys and cycles raise here)

    # Derived once per definition (definitions are immutable and cached between requests).
    @cached_property
    def formula_order(self) -> list[str]:
        """Every measure key, each formula's inputs before it. Raises FormulaError (a
        ValueError) for unknown keys and cycles."""
        return evaluation_order({m.key: m.formula for m in self.measures})

    @cached_property
    def measures_by_id(self) -> dict[UUID, MeasureDefinition]:
        return {m.id: m for m in self.measures}

    @cached_property
    def measures_by_key(self) -> dict[str, MeasureDefinition]:
        return {m.key: m for m in self.measures}


def _require_weight(weight: float, owner: str) -> None:
    if not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"{owner}: weight must be a finite number >= 0")


def _require_unique(values: Sequence[object], what: str) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)
