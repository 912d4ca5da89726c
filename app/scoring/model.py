"""What the engine is told about a scorecard: plain, validated definitions (no ORM, no HTTP).

The constructors check the rules of docs/scoring.md and raise ValueError, so a definition that
reaches the engine always has what its direction needs.
"""

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property
from uuid import UUID
from zoneinfo import ZoneInfo

from app.scoring.formula import KEY_PATTERN, Formula, evaluation_order
from app.scoring.periods import Cadence, Period, require_aware


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
    # How many different subjects (e.g. learners) have a reading other than 0 in the period.
    distinct_subjects = "distinct_subjects"


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
class TargetStep:
    """One entry of a target schedule: from `starts` on, the values it gives (the ones not None)
    replace the measure's own, for every period that starts at or after it."""

    starts: datetime
    baseline: float | None = None
    target: float | None = None
    target_min: float | None = None
    target_max: float | None = None
    thresholds: Thresholds | None = None

    def __post_init__(self) -> None:
        require_aware(self.starts, "a target step's start")

    def given(self) -> dict[str, object]:
        return {
            name: value for name in SCHEDULED_FIELDS if (value := getattr(self, name)) is not None
        }


# What a target step may replace of a measure's definition.
SCHEDULED_FIELDS = ("baseline", "target", "target_min", "target_max", "thresholds")


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
    targets: tuple[TargetStep, ...] = ()  # the target schedule, by start, strictly ascending
    # Set for a linked measure (at most one): its value is that measure's over this measure's
    # period, or that scorecard's score, at the same instant (docs/scoring.md, linked measures).
    source_measure_id: UUID | None = None
    source_scorecard_id: UUID | None = None

    @property
    def linked(self) -> bool:
        return self.source_measure_id is not None or self.source_scorecard_id is not None

    def __post_init__(self) -> None:
        if self.source_measure_id is not None and self.source_scorecard_id is not None:
            raise ValueError(f"measure {self.key!r}: one source at most")
        if self.linked and self.formula is not None:
            raise ValueError(f"measure {self.key!r}: a linked measure has no formula")
        self._check_own_values()
        for earlier, later in itertools.pairwise(self.targets):
            if not earlier.starts < later.starts:
                raise ValueError(
                    f"measure {self.key!r}: target steps must be in strictly ascending order"
                )
        # Each combination in effect must be a valid definition too: built, and so checked, now.
        _ = self._stepped

    @cached_property
    def _stepped(self) -> tuple["MeasureDefinition", ...]:
        """The definition in effect from each target step on, built once."""
        return tuple(self._with(step) for step in self.targets)

    def in_effect(self, period: Period) -> "MeasureDefinition":
        """The definition that scores `period`: the measure's own values, replaced by those of
        the last target step that starts at or before the period's start."""
        in_effect = self
        for step, stepped in zip(self.targets, self._stepped, strict=True):
            if step.starts > period.start:
                break
            in_effect = stepped
        return in_effect

    def _with(self, step: TargetStep) -> "MeasureDefinition":
        try:
            return dataclasses.replace(self, targets=(), **step.given())  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"{exc} (from the target step of {step.starts.isoformat()})") from None

    def _check_own_values(self) -> None:
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


class InitiativeStatus(StrEnum):
    planned = "planned"
    on_track = "on_track"
    at_risk = "at_risk"
    off_track = "off_track"
    done = "done"
    cancelled = "cancelled"


# An initiative in these states is over, whatever its dates say.
CLOSED_INITIATIVE_STATUSES = frozenset({InitiativeStatus.done, InitiativeStatus.cancelled})


@dataclass(frozen=True)
class InitiativeDefinition:
    """What a team does to move objectives and measures: the tree lists it under its
    objectives, and an active one keeps a red measure it covers from asking for one."""

    id: UUID
    name: str
    status: str
    progress: float
    start_date: date
    end_date: date
    objective_ids: Sequence[UUID] = ()
    measure_ids: Sequence[UUID] = ()

    def __post_init__(self) -> None:
        if self.start_date > self.end_date:
            raise ValueError(f"initiative {self.name!r}: start_date after end_date")

    def active_on(self, day: date) -> bool:
        """Not done or cancelled, and `day` within [start_date, end_date]."""
        return (
            self.status not in CLOSED_INITIATIVE_STATUSES
            and self.start_date <= day <= self.end_date
        )


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
    initiatives: Sequence[InitiativeDefinition] = ()
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
    def linked(self) -> bool:
        """Some measure takes its values from another measure or scorecard."""
        return any(m.linked for m in self.measures)

    @cached_property
    def ids_by_aggregation(self) -> dict[Aggregation, frozenset[UUID]]:
        return {
            aggregation: frozenset(m.id for m in self.measures if m.aggregation is aggregation)
            for aggregation in Aggregation
        }

    @cached_property
    def measures_by_id(self) -> dict[UUID, MeasureDefinition]:
        return {m.id: m for m in self.measures}

    @cached_property
    def measures_by_key(self) -> dict[str, MeasureDefinition]:
        return {m.key: m for m in self.measures}

    @cached_property
    def initiatives_by_target(self) -> dict[UUID, list[InitiativeDefinition]]:
        """The initiatives linked to each objective id and each measure id."""
        linked: dict[UUID, list[InitiativeDefinition]] = {}
        for initiative in self.initiatives:
            for target in (*initiative.objective_ids, *initiative.measure_ids):
                linked.setdefault(target, []).append(initiative)
        return linked

    def needs_initiative(self, measure: MeasureDefinition, status: Status, at: datetime) -> bool:
        """A red measure that no initiative active at `at` covers, through a link to the
        measure or to its objective. The day of `at` is taken in the scorecard's time zone, as
        periods are: an initiative ending on the 31st still runs on the evening of the 31st
        there."""
        if status is not Status.red:
            return False
        day = at.astimezone(self.timezone).date()
        linked = self.initiatives_by_target
        covering = [*linked.get(measure.id, ())]
        if measure.objective_id is not None:
            covering += linked.get(measure.objective_id, ())
        return not any(initiative.active_on(day) for initiative in covering)


def _require_weight(weight: float, owner: str) -> None:
    if not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"{owner}: weight must be a finite number >= 0")


def _require_unique(values: Sequence[object], what: str) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)
