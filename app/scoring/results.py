"""What the engine answers. Field names are the JSON API's; values are floats as computed."""

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
    trend: Trend | None
    stale: bool
    last_observed_at: datetime | None
    readings_in_period: int
    coverage: float
    # Attached after evaluation (app/scoring/commentary.py): notes are data, not arithmetic.
    commentary: Commentary | None = None
    commentary_missing: bool = False


@dataclass(frozen=True)
class ObjectiveScore:
    objective_id: UUID
    name: str
    weight: float
    score: float | None
    status: Status
    coverage: float
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


@dataclass(frozen=True)
class MeasureHistoryEntry:
    period: Period
    value: float | None
    progress: float | None
    score: float | None
    status: Status
    commentary: Commentary | None = None


@dataclass(frozen=True)
class ScorecardHistoryEntry:
    period: Period
    score: float | None
    status: Status
    coverage: float
