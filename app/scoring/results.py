"""What the engine answers. Field names are the JSON API's; values are floats as computed."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from app.scoring.model import Status
from app.scoring.periods import Period


@dataclass(frozen=True)
class Commentary:
    """What the team wrote about a measure's period."""

    analysis: str | None
    actions: str | None


@dataclass(frozen=True)
class Trend:
    previous_score: float | None
    delta: float | None
    direction: str  # "up" | "down" | "flat"


@dataclass(frozen=True)
class Source:
    """Where a linked measure's value comes from: one of the two is set."""

    measure_id: UUID | None
    scorecard_id: UUID | None


@dataclass(frozen=True)
class MeasureScore:
    measure_id: UUID
    key: str
    name: str
    unit: str | None
    weight: float
    value: float | None
    progress: float | None
    score: float | None
    status: Status
    period: Period
    # The values in effect for the period (the measure's own, or its target schedule's).
    baseline: float | None
    target: float | None
    target_min: float | None
    target_max: float | None
    trend: Trend | None
    stale: bool
    last_observed_at: datetime | None
    readings_in_period: int
    coverage: float
    needs_initiative: bool  # red, and no active initiative covers it (False in history)
    source: Source | None = None  # a linked measure's
    # Attached after evaluation (app/scoring/commentary.py): notes are data, not arithmetic.
    commentary: Commentary | None = None
    commentary_missing: bool = False


@dataclass(frozen=True)
class InitiativeRef:
    """An initiative as an objective node lists it."""

    id: UUID
    name: str
    status: str
    progress: float


@dataclass(frozen=True)
class ObjectiveScore:
    objective_id: UUID
    name: str
    weight: float
    score: float | None
    status: Status
    coverage: float
    initiatives: list[InitiativeRef]  # linked to the objective, in creation order
    measures: list[MeasureScore]


@dataclass(frozen=True)
class PerspectiveScore:
    key: str
    name: str
    weight: float
    score: float | None
    status: Status
    coverage: float
    objectives: list[ObjectiveScore]
    measures: list[MeasureScore]  # the perspective's measures that have no objective


@dataclass(frozen=True)
class ScorecardScore:
    scorecard_id: UUID
    as_of: datetime
    score: float | None
    status: Status
    coverage: float
    perspectives: list[PerspectiveScore]

    def measures(self) -> Iterator[MeasureScore]:
        """Every measure of the tree, in display order."""
        for perspective in self.perspectives:
            for objective in perspective.objectives:
                yield from objective.measures
            yield from perspective.measures


@dataclass(frozen=True)
class MeasureHistoryEntry:
    period: Period
    value: float | None
    progress: float | None
    score: float | None
    status: Status
    baseline: float | None
    target: float | None
    target_min: float | None
    target_max: float | None
    commentary: Commentary | None = None


@dataclass(frozen=True)
class ScorecardHistoryEntry:
    period: Period
    score: float | None
    status: Status
    coverage: float
