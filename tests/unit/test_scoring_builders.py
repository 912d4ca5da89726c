"""Builders shared by the scoring tests (this module holds no tests)."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from app.scoring import (
    Aggregation,
    Cadence,
    Direction,
    InitiativeDefinition,
    MeasureDefinition,
    ObjectiveDefinition,
    PerspectiveDefinition,
    Reading,
    ScorecardDefinition,
    Thresholds,
    Window,
    WindowStats,
    parse_formula,
    summarize,
)

NAMESPACE = UUID(int=0)
SCORECARD_ID = UUID(int=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def id_of(name: str) -> UUID:
    return uuid5(NAMESPACE, name)


def measure(key: str, formula: str | None = None, **fields: Any) -> MeasureDefinition:
    """A monthly `latest` increase measure from 0 to 100 unless told otherwise."""
    defaults: dict[str, Any] = {
        "id": id_of(key),
        "key": key,
        "name": key.title(),
        "unit": None,
        "weight": 1.0,
        "perspective": "financial",
        "objective_id": None,
        "direction": Direction.increase,
        "aggregation": Aggregation.latest,
        "cadence": Cadence.month,
        "baseline": 0.0,
        "target": 100.0,
    }
    if formula is not None:
        defaults["formula"] = parse_formula(formula)
    return MeasureDefinition(**(defaults | fields))


def objective(name: str, perspective: str = "financial", weight: float = 1) -> ObjectiveDefinition:
    return ObjectiveDefinition(id_of(name), name, perspective, weight)


def scorecard(
    *measures: MeasureDefinition,
    objectives: Sequence[ObjectiveDefinition] = (),
    perspectives: Mapping[str, float] | None = None,
    timezone: str = "UTC",
    thresholds: Thresholds = Thresholds(),
    score_cap: float = 100,
    initiatives: Sequence[InitiativeDefinition] = (),
) -> ScorecardDefinition:
    weights = perspectives or {"financial": 1, "customer": 1}
    return ScorecardDefinition(
        id=SCORECARD_ID,
        timezone=ZoneInfo(timezone),
        thresholds=thresholds,
        score_cap=score_cap,
        perspectives=[PerspectiveDefinition(k, k.title(), w) for k, w in weights.items()],
        objectives=list(objectives),
        measures=list(measures),
        initiatives=list(initiatives),
    )


Readings = Mapping[str, Iterable[tuple[datetime, float]]]


def fetch(
    card: ScorecardDefinition, windows: Iterable[Window], readings: Readings
) -> dict[Window, WindowStats]:
    """What the database answers: `summarize` of each measure's readings (by key) per window."""
    by_id = {
        m.id: [Reading(value, at) for at, value in readings.get(m.key, ())] for m in card.measures
    }
    return {window: summarize(by_id[window.measure_id], window) for window in windows}
