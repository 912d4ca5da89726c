"""What the scoring engine needs from the database: definitions, and statistics for windows.

Window statistics for any number of measures and periods come from ONE statement: the windows
are passed as arrays, and two LATERAL subqueries per window run on the
`(measure_id, observed_at DESC) INCLUDE (value)` index — an index-only range scan for the
aggregates and a one-row descent for the latest reading — so the cost follows the readings in
the requested periods, not the length of history.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import driver_connection
from app.core.errors import NotFound
from app.scoring import (
    Aggregation,
    Cadence,
    Direction,
    Formula,
    MeasureDefinition,
    ObjectiveDefinition,
    PerspectiveDefinition,
    ScorecardDefinition,
    Thresholds,
    Window,
    WindowStats,
    parse_formula,
)

_WINDOW_STATS = """
SELECT w.ord, agg.n, agg.total, agg.minimum, agg.maximum, latest.value, latest.observed_at
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::bool[])
     WITH ORDINALITY AS w(measure_id, start, until, aggregate, ord)
CROSS JOIN LATERAL (
    SELECT count(*) AS n, sum(r.value) AS total, min(r.value) AS minimum, max(r.value) AS maximum
    FROM readings r
    WHERE w.aggregate
      AND r.measure_id = w.measure_id AND r.observed_at >= w.start AND r.observed_at < w.until
) agg
LEFT JOIN LATERAL (
    SELECT r.value, r.observed_at
    FROM readings r
    WHERE r.measure_id = w.measure_id AND r.observed_at < w.until
    ORDER BY r.observed_at DESC, r.id DESC
    LIMIT 1
) latest ON true
"""


def _needs_aggregates(definition: ScorecardDefinition, windows: Sequence[Window]) -> list[bool]:
    """A `latest` measure's value and trend come from the latest reading alone; only its own
    newest window reports `readings_in_period`. Skipping the range scan on its other windows
    (previous periods, history) keeps the cost of `latest` scorecards flat as history grows."""
    latest = {m.id for m in definition.measures if m.aggregation is Aggregation.latest}
    newest: dict[uuid.UUID, datetime] = {}
    for w in windows:
        if w.measure_id in latest and w.until > newest.get(w.measure_id, w.start):
            newest[w.measure_id] = w.until
    return [w.measure_id not in latest or w.until == newest[w.measure_id] for w in windows]


async def fetch_window_stats(
    session: AsyncSession, definition: ScorecardDefinition, windows: Collection[Window]
) -> dict[Window, WindowStats]:
    if not windows:
        return {}
    ordered: Sequence[Window] = list(windows)
    rows = await (await driver_connection(session)).fetch(
        _WINDOW_STATS,
        [w.measure_id for w in ordered],
        [w.start for w in ordered],
        [w.until for w in ordered],
        _needs_aggregates(definition, ordered),
    )
    return {
        ordered[row[0] - 1]: WindowStats(
            count=row[1],
            total=row[2],
            minimum=row[3],
            maximum=row[4],
            latest_value=row[5],
            latest_observed_at=row[6],
        )
        for row in rows
        if row[1] or row[5] is not None
    }


def _thresholds(raw: dict[str, float] | None) -> Thresholds | None:
    return None if raw is None else Thresholds(green=raw["green"], amber=raw["amber"])


@lru_cache(maxsize=4096)
def _formula(text: str) -> Formula:
    """Formulas are immutable, and a scorecard's are parsed on every score: parse each once."""
    return parse_formula(text)


class _Row:
    """Attribute access to an asyncpg record, for the conversions below.
    JSONB columns are selected as text (`thresholds::text AS thresholds`) and decoded here."""

    __slots__ = ("_record",)
    _JSON = frozenset({"thresholds", "perspectives"})

    def __init__(self, record: Any) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._record[name]
        except KeyError:
            raise AttributeError(name) from None
        return json.loads(value) if name in _Row._JSON and value is not None else value


def measure_definition(measure: _Row) -> MeasureDefinition:
    return MeasureDefinition(
        id=measure.id,
        key=measure.key,
        name=measure.name,
        unit=measure.unit,
        weight=measure.weight,
        perspective=measure.perspective,
        objective_id=measure.objective_id,
        direction=Direction(measure.direction),
        aggregation=Aggregation(measure.aggregation),
        cadence=Cadence(measure.cadence),
        baseline=measure.baseline,
        target=measure.target,
        target_min=measure.target_min,
        target_max=measure.target_max,
        tolerance=measure.tolerance,
        prorate=measure.prorate,
        thresholds=_thresholds(measure.thresholds),
        formula=_formula(measure.formula) if measure.formula else None,
    )


def scorecard_definition(
    scorecard: _Row, objectives: Sequence[_Row], measures: Sequence[_Row]
) -> ScorecardDefinition:
    return ScorecardDefinition(
        id=scorecard.id,
        timezone=ZoneInfo(scorecard.timezone),
        thresholds=Thresholds(**scorecard.thresholds),
        score_cap=scorecard.score_cap,
        perspectives=[
            PerspectiveDefinition(p["key"], p["name"], p["weight"]) for p in scorecard.perspectives
        ],
        objectives=[ObjectiveDefinition(o.id, o.name, o.perspective, o.weight) for o in objectives],
        measures=[measure_definition(m) for m in measures],
    )


# Scores, history and crossing detection need only the definition: three plain statements on
# the driver connection, without ORM hydration (about 1 ms instead of 4 for a 40-measure
# scorecard, measured).
_SCORECARD = """
SELECT id, timezone, thresholds::text AS thresholds, score_cap, perspectives::text AS perspectives
FROM scorecards WHERE id = $1
"""
_OBJECTIVES = """
SELECT id, name, perspective, weight FROM objectives WHERE scorecard_id = $1 ORDER BY id
"""
_MEASURES = """
SELECT id, key, name, unit, weight, perspective, objective_id, direction, aggregation, cadence,
       baseline, target, target_min, target_max, tolerance, prorate,
       thresholds::text AS thresholds, formula
FROM measures WHERE scorecard_id = $1 ORDER BY id
"""
_MEASURE_SCORECARD = "SELECT scorecard_id FROM measures WHERE id = $1"


async def load_definition(session: AsyncSession, scorecard_id: uuid.UUID) -> ScorecardDefinition:
    """The scorecard as the engine sees it (measures and objectives in creation order)."""
    connection = await driver_connection(session)
    scorecard = await connection.fetchrow(_SCORECARD, scorecard_id)
    if scorecard is None:
        raise NotFound(f"scorecard {scorecard_id} not found")
    objectives = await connection.fetch(_OBJECTIVES, scorecard_id)
    measures = await connection.fetch(_MEASURES, scorecard_id)
    # Definitions are immutable and a pure function of these rows, so the rows themselves are
    # the cache key: an edit anywhere (in any process) changes the key, nothing is ever stale.
    # (JSONB comes as its canonical text, so every value is hashable and compared exactly.)
    key = (tuple(scorecard), tuple(map(tuple, objectives)), tuple(map(tuple, measures)))
    definition = _definitions.get(key)
    if definition is None:
        definition = scorecard_definition(
            _Row(scorecard), [_Row(o) for o in objectives], [_Row(m) for m in measures]
        )
        if len(_definitions) >= _MAX_DEFINITIONS:
            del _definitions[next(iter(_definitions))]  # the oldest
        _definitions[key] = definition
    return definition


_MAX_DEFINITIONS = 256
_definitions: dict[tuple[Any, ...], ScorecardDefinition] = {}


async def scorecard_of_measure(session: AsyncSession, measure_id: uuid.UUID) -> uuid.UUID:
    scorecard_id = await (await driver_connection(session)).fetchval(_MEASURE_SCORECARD, measure_id)
    if scorecard_id is None:
        raise NotFound(f"measure {measure_id} not found")
    return scorecard_id  # type: ignore[no-any-return]
