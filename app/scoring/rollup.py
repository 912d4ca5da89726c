"""Roll-up: measure -> objective -> perspective -> scorecard, as weighted means of what has data."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from uuid import UUID

from app.scoring.model import ScorecardDefinition
from app.scoring.results import (
    InitiativeRef,
    MeasureScore,
    ObjectiveScore,
    PerspectiveScore,
    ScorecardScore,
)
from app.scoring.rules import rounded, status_of


def weighted_score(children: Iterable[tuple[float, float | None]]) -> tuple[float | None, float]:
    """(score, coverage) of a parent from its children's (weight, score).

    Children without a score are left out and the other weights renormalised; coverage is the
    weight with a score over the total weight. Weight-0 children never count, so a parent whose
    children all weigh 0 has score None and coverage 0.
    """
    total_weight = weight_with_data = weighted_sum = 0.0
    for weight, score in children:
        total_weight += weight
        if score is not None and weight > 0:
            weight_with_data += weight
            weighted_sum += weight * score
    if weight_with_data == 0:
        return None, 0.0
    return rounded(weighted_sum / weight_with_data), rounded(weight_with_data / total_weight)


def roll_up(
    scorecard: ScorecardDefinition, as_of: datetime, measures: Mapping[UUID, MeasureScore]
) -> ScorecardScore:
    """The scorecard tree around already evaluated `measures` (one per measure of the scorecard)."""
    thresholds = scorecard.thresholds
    perspectives: list[PerspectiveScore] = []
    for perspective in scorecard.perspectives:
        objectives: list[ObjectiveScore] = []
        for objective in scorecard.objectives:
            if objective.perspective != perspective.key:
                continue
            children = [
                measures[m.id] for m in scorecard.measures if m.objective_id == objective.id
            ]
            score, coverage = weighted_score((c.weight, c.score) for c in children)
            objectives.append(
                ObjectiveScore(
                    objective_id=objective.id,
                    name=objective.name,
                    weight=objective.weight,
                    score=score,
                    status=status_of(score, thresholds),
                    coverage=coverage,
                    initiatives=[
                        InitiativeRef(i.id, i.name, i.status, i.progress)
                        for i in scorecard.initiatives_by_target.get(objective.id, ())
                    ],
                    measures=children,
                )
            )
        loose = [
            measures[m.id]
            for m in scorecard.measures
            if m.perspective == perspective.key and m.objective_id is None
        ]
        score, coverage = weighted_score(
            [(o.weight, o.score) for o in objectives] + [(m.weight, m.score) for m in loose]
        )
        perspectives.append(
            PerspectiveScore(
                key=perspective.key,
                name=perspective.name,
                weight=perspective.weight,
                score=score,
                status=status_of(score, thresholds),
                coverage=coverage,
                objectives=objectives,
                measures=loose,
            )
        )
    score, coverage = weighted_score((p.weight, p.score) for p in perspectives)
    return ScorecardScore(
        scorecard_id=scorecard.id,
        as_of=as_of,
        score=score,
        status=status_of(score, thresholds),
        coverage=coverage,
        perspectives=perspectives,
    )
