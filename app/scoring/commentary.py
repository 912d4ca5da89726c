"""Commentary on evaluated measures: each measure node and history entry carries what the team
wrote for its period, and a node whose status the scorecard lists in `commentary_required_for`
but has none shows `commentary_missing`. The notes come in as plain values, keyed by measure
and period (the caller fetches them in one query for all the keys `commentary_keys` names)."""

from collections.abc import Mapping, Sequence
from dataclasses import replace
from uuid import UUID

from app.scoring.model import Status
from app.scoring.periods import Period
from app.scoring.results import (
    Commentary,
    MeasureHistoryEntry,
    MeasureScore,
    ObjectiveScore,
    PerspectiveScore,
    ScorecardScore,
)

CommentaryKey = tuple[UUID, Period]
Notes = Mapping[CommentaryKey, Commentary]


def commentary_keys(score: ScorecardScore) -> list[CommentaryKey]:
    """The (measure, period) of every measure node of `score`."""
    return [(m.measure_id, m.period) for m in score.measures()]


def measure_with_commentary(
    measure: MeasureScore, notes: Notes, required_for: frozenset[Status]
) -> MeasureScore:
    commentary = notes.get((measure.measure_id, measure.period))
    return replace(
        measure,
        commentary=commentary,
        commentary_missing=commentary is None and measure.status in required_for,
    )


def with_commentary(
    score: ScorecardScore, notes: Notes, required_for: frozenset[Status]
) -> ScorecardScore:
    """`score` with every measure node annotated (the roll-up is untouched)."""

    def annotate(measures: Sequence[MeasureScore]) -> list[MeasureScore]:
        return [measure_with_commentary(m, notes, required_for) for m in measures]

    def objective(o: ObjectiveScore) -> ObjectiveScore:
        return replace(o, measures=annotate(o.measures))

    def perspective(p: PerspectiveScore) -> PerspectiveScore:
        return replace(
            p, objectives=[objective(o) for o in p.objectives], measures=annotate(p.measures)
        )

    return replace(score, perspectives=[perspective(p) for p in score.perspectives])


def history_with_commentary(
    measure_id: UUID, entries: Sequence[MeasureHistoryEntry], notes: Notes
) -> list[MeasureHistoryEntry]:
    return [replace(e, commentary=notes.get((measure_id, e.period))) for e in entries]
