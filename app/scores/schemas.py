"""Response shapes of the score endpoints (SPEC §4); built from the engine's dataclasses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from app.core.schemas import ResponseBody
from app.scoring import Cadence

StatusOut = Literal["green", "amber", "red", "no_data"]


class PeriodOut(ResponseBody):
    start: datetime
    end: datetime = Field(description="Exclusive.")


class TrendOut(ResponseBody):
    previous_score: float | None
    delta: float | None
    direction: Literal["up", "down", "flat"]


class MeasureScoreOut(ResponseBody):
    measure_id: uuid.UUID
    key: str
    name: str
    unit: str | None
    weight: float
    value: float | None
    progress: float | None = Field(description="Percent of the way from baseline to target; "
                                               "uncapped.")
    score: float | None = Field(description="Progress clamped to [0, score_cap].")
    status: StatusOut
    coverage: float
    period: PeriodOut
    trend: TrendOut | None
    stale: bool = Field(description="The latest reading predates the period.")
    last_observed_at: datetime | None
    readings_in_period: int


class ObjectiveScoreOut(ResponseBody):
    objective_id: uuid.UUID
    name: str
    weight: float
    score: float | None
    status: StatusOut
    coverage: float = Field(description="Weight of children with data / total weight.")
    measures: list[MeasureScoreOut]


class PerspectiveScoreOut(ResponseBody):
    key: str
    name: str
    weight: float
    score: float | None
    status: StatusOut
    coverage: float
    objectives: list[ObjectiveScoreOut]
    measures: list[MeasureScoreOut] = Field(description="Measures without an objective.")


class ScorecardScoreOut(ResponseBody):
    scorecard_id: uuid.UUID
    as_of: datetime
    score: float | None
    status: StatusOut
    coverage: float
    perspectives: list[PerspectiveScoreOut]


class MeasureHistoryEntryOut(ResponseBody):
    period: PeriodOut
    value: float | None
    progress: float | None
    score: float | None
    status: StatusOut


class MeasureHistoryOut(ResponseBody):
    measure_id: uuid.UUID
    cadence: Cadence
    entries: list[MeasureHistoryEntryOut]


class ScorecardHistoryEntryOut(ResponseBody):
    period: PeriodOut
    score: float | None
    status: StatusOut
    coverage: float


class ScorecardHistoryOut(ResponseBody):
    scorecard_id: uuid.UUID
    cadence: Cadence
    entries: list[ScorecardHistoryEntryOut]
