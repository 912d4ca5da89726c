"""What the scoring engine needs from the database: definitions, and statistics for windows.

Window statistics for any number of measures and periods come from ONE statement: the windows
are passed as arrays, and two LATERAL subqueries per window run on the
`(measure_id, observed_at DESC) INCLUDE (value)` index — an index-only range scan for the
aggregates and a one-row descent for the latest reading — so the cost follows the readings in
the requested periods, not the length of history.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.measures.models import Measure
from app.scorecards.models import Objective, Scorecard
from app.scoring import (
    Aggregation,
    Cadence,
    Direction,
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
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[])
     WITH ORDINALITY AS w(measure_id, start, until, ord)
CROSS JOIN LATERAL (
    SELECT count(*) AS n, sum(r.value) AS total, min(r.value) AS minimum, max(r.value) AS maximum
    FROM readings r
    WHERE r.measure_id = w.measure_id AND r.observed_at >= w.start AND r.observed_at < w.until
) agg
LEFT JOIN LATERAL (
    SELECT r.value, r.observed_at
    FROM readings r
    WHERE r.measure_id = w.measure_id AND r.observed_at < w.until
    ORDER BY r.observed_at DESC, r.id DESC
    LIMIT 1
) latest ON true
"""


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, in the session's transaction: hot read paths
    skip SQLAlchemy's per-row overhead (about 2x, measured)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def fetch_window_stats(
    session: AsyncSession, windows: Collection[Window]
) -> dict[Window, WindowStats]:
    if not windows:
        return {}
    ordered: Sequence[Window] = list(windows)
    rows = await (await driver_connection(session)).fetch(
        _WINDOW_STATS,
        [w.measure_id for w in ordered],
        [w.start for w in ordered],
        [w.until for w in ordered],
    )
    return {
        ordered[row[0] - 1]: WindowStats(
            count=row[1], total=row[2], minimum=row[3], maximum=row[4],
            latest_value=row[5], latest_observed_at=row[6],
        )
        for row in rows
        if row[1] or row[5] is not None
    }


def _thresholds(raw: dict[str, float] | None) -> Thresholds | None:
    return None if raw is None else Thresholds(green=raw["green"], amber=raw["amber"])


def measure_definition(measure: Measure) -> MeasureDefinition:
    return MeasureDefinition(
        id=measure.id, key=measure.key, name=measure.name, unit=measure.unit,
        weight=measure.weight, perspective=measure.perspective,
        objective_id=measure.objective_id, direction=Direction(measure.direction),
        aggregation=Aggregation(measure.aggregation), cadence=Cadence(measure.cadence),
        baseline=measure.baseline, target=measure.target, target_min=measure.target_min,
        target_max=measure.target_max, tolerance=measure.tolerance, prorate=measure.prorate,
        thresholds=_thresholds(measure.thresholds),
        formula=parse_formula(measure.formula) if measure.formula else None,
    )


def scorecard_definition(
    scorecard: Scorecard, objectives: Sequence[Objective], measures: Sequence[Measure]
) -> ScorecardDefinition:
    return ScorecardDefinition(
        id=scorecard.id,
        timezone=ZoneInfo(scorecard.timezone),
        thresholds=Thresholds(**scorecard.thresholds),
        score_cap=scorecard.score_cap,
        perspectives=[PerspectiveDefinition(p["key"], p["name"], p["weight"])
                      for p in scorecard.perspectives],
        objectives=[ObjectiveDefinition(o.id, o.name, o.perspective, o.weight)
                    for o in objectives],
        measures=[measure_definition(m) for m in measures],
    )


async def load_scorecard(
    session: AsyncSession, scorecard_id: uuid.UUID
) -> tuple[ScorecardDefinition, list[Measure]]:
    """The scorecard as the engine sees it, plus its measure rows (creation order)."""
    scorecard = await session.get(Scorecard, scorecard_id)
    if scorecard is None:
        raise NotFound(f"scorecard {scorecard_id} not found")
    objectives = (await session.scalars(
        select(Objective).where(Objective.scorecard_id == scorecard_id).order_by(Objective.id)
    )).all()
    measures = list((await session.scalars(
        select(Measure).where(Measure.scorecard_id == scorecard_id).order_by(Measure.id)
    )).all())
    return scorecard_definition(scorecard, objectives, measures), measures
