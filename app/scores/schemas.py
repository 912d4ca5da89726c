"""Response shapes of the score endpoints (docs/scoring.md); built from the engine's dataclasses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from app.core.schemas import ResponseBody
from app.scoring import Cadence, InitiativeStatus

StatusOut = Literal["green", "amber", "red", "no_data"]


class PeriodOut(ResponseBody):
    start: datetime
    end: datetime = Field(description="Exclusive.")


class CommentaryNoteOut(ResponseBody):
    """What the team wrote about the measure for this period."""

    analysis: str | None
    actions: str | None


class SourceOut(ResponseBody):
    """Where a linked measure's value comes from: one of the two is set."""

    measure_id: uuid.UUID | None
    scorecard_id: uuid.UUID | None


_SOURCE = "A linked measure's source; null for any other."


class TrendOut(ResponseBody):
    previous_score: float | None
    delta: float | None
    direction: Literal["up", "down", "flat"]


_IN_EFFECT = (
    "In effect for the period: the measure's own value, or its target schedule's "
    "(the last step starting at or before the period's start)."
)

_MEASURE_EXAMPLE: dict[str, Any] = {
    "measure_id": "01936f4e-8a7b-7c3d-9e2f-0a1b2c3d4e5f",
    "key": "completion",
    "name": "Completion rate",
    "unit": "%",
    "weight": 1.0,
    "value": 82.0,
    "progress": 80.0,
    "score": 80.0,
    "status": "amber",
    "coverage": 1.0,
    "period": {"start": "2026-10-31T23:00:00Z", "end": "2026-11-30T23:00:00Z"},
    "baseline": 60.0,
    "target": 85.0,
    "target_min": None,
    "target_max": None,
    "trend": {"previous_score": 72.5, "delta": 7.5, "direction": "up"},
    "stale": False,
    "last_observed_at": "2026-11-02T08:00:00Z",
    "readings_in_period": 3,
    "needs_initiative": False,
    "source": None,
    "commentary": {"analysis": "Two cohorts slipped to December.", "actions": None},
    "commentary_missing": False,
}


class MeasureScoreOut(ResponseBody):
    model_config = ConfigDict(json_schema_extra={"examples": [_MEASURE_EXAMPLE]})

    measure_id: uuid.UUID
    key: str
    name: str
    unit: str | None
    weight: float
    value: float | None
    progress: float | None = Field(
        description="Percent of the way from baseline to target; uncapped."
    )
    score: float | None = Field(description="Progress clamped to [0, score_cap].")
    status: StatusOut
    coverage: float
    period: PeriodOut
    baseline: float | None = Field(description=_IN_EFFECT)
    target: float | None = Field(description=_IN_EFFECT)
    target_min: float | None = Field(description=_IN_EFFECT)
    target_max: float | None = Field(description=_IN_EFFECT)
    trend: TrendOut | None
    stale: bool = Field(description="The latest reading predates the period.")
    last_observed_at: datetime | None
    readings_in_period: int
    needs_initiative: bool = Field(
        description="Red, and no initiative active at as_of is linked to the measure or to "
        "its objective."
    )
    source: SourceOut | None = Field(description=_SOURCE)
    commentary: CommentaryNoteOut | None = Field(
        description="The commentary written for this period, if any."
    )
    commentary_missing: bool = Field(
        description="The status is one the scorecard's `commentary_required_for` lists, and "
        "this period has no commentary."
    )


class InitiativeRefOut(ResponseBody):
    """An initiative linked to an objective (`/v1/initiatives/{id}` has the rest)."""

    id: uuid.UUID
    name: str
    status: InitiativeStatus
    progress: float


class ObjectiveScoreOut(ResponseBody):
    objective_id: uuid.UUID
    name: str
    weight: float
    score: float | None
    status: StatusOut
    coverage: float = Field(description="Weight of children with data / total weight.")
    initiatives: list[InitiativeRefOut] = Field(
        description="Every initiative linked to the objective, active or not."
    )
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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scorecard_id": "01936f4e-0000-7000-8000-000000000001",
                    "as_of": "2026-11-28T10:00:00Z",
                    "score": 80.0,
                    "status": "amber",
                    "coverage": 0.5,
                    "perspectives": [
                        {
                            "key": "learning_growth",
                            "name": "Learning & growth",
                            "weight": 1.0,
                            "score": 80.0,
                            "status": "amber",
                            "coverage": 1.0,
                            "objectives": [
                                {
                                    "objective_id": "01936f4e-0000-7000-8000-000000000002",
                                    "name": "Build capability",
                                    "weight": 1.0,
                                    "score": 80.0,
                                    "status": "amber",
                                    "coverage": 1.0,
                                    "initiatives": [
                                        {
                                            "id": "01936f4e-0000-7000-8000-000000000003",
                                            "name": "Onboarding academy",
                                            "status": "on_track",
                                            "progress": 40.0,
                                        }
                                    ],
                                    "measures": [_MEASURE_EXAMPLE],
                                }
                            ],
                            "measures": [],
                        },
                        {
                            "key": "financial",
                            "name": "Financial",
                            "weight": 1.0,
                            "score": None,
                            "status": "no_data",
                            "coverage": 0.0,
                            "objectives": [],
                            "measures": [],
                        },
                    ],
                }
            ]
        }
    )

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
    baseline: float | None = Field(description=_IN_EFFECT)
    target: float | None = Field(description=_IN_EFFECT)
    target_min: float | None = Field(description=_IN_EFFECT)
    target_max: float | None = Field(description=_IN_EFFECT)
    commentary: CommentaryNoteOut | None


class MeasureHistoryOut(ResponseBody):
    measure_id: uuid.UUID
    cadence: Cadence
    source: SourceOut | None = Field(description=_SOURCE)
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


class MapNodeOut(ResponseBody):
    """An objective on the strategy map, with its score at `as_of`."""

    objective_id: uuid.UUID
    name: str
    perspective: str = Field(description="The key of its perspective.")
    score: float | None
    status: StatusOut


class MapEdgeOut(ResponseBody):
    """An arrow of the map: objective `from` drives objective `to` (cause → effect)."""

    from_: uuid.UUID = Field(alias="from")
    to: uuid.UUID


class StrategyMapOut(ResponseBody):
    nodes: list[MapNodeOut] = Field(
        description="Band by band, top to bottom (financial first, learning & growth last); "
        "within a band, as the score tree lists them."
    )
    edges: list[MapEdgeOut] = Field(description="Sorted by `from`, then `to`.")
