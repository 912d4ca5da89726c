"""Scores on read: load definitions, fetch every window's statistics in one query, evaluate."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import ValidationFailed
from app.scores.data import fetch_window_stats, load_definition, scorecard_of_measure
from app.scoring import (
    Cadence,
    MeasureHistoryEntry,
    MeasureScore,
    PeriodSelector,
    ScorecardHistoryEntry,
    ScorecardScore,
    evaluate_measure,
    evaluate_measure_history,
    evaluate_scorecard,
    evaluate_scorecard_history,
    measure_history_points,
    measure_history_windows,
    measure_windows,
    scorecard_history_points,
    scorecard_history_windows,
    scorecard_windows,
)

MAX_HISTORY_PERIODS = 500


async def score_scorecard(
    session: AsyncSession, scorecard_id: uuid.UUID, as_of: datetime, selector: PeriodSelector
) -> ScorecardScore:
    definition = await load_definition(session, scorecard_id)
    stats = await fetch_window_stats(
        session, definition, scorecard_windows(definition, as_of, selector)
    )
    return evaluate_scorecard(definition, as_of, selector, stats)


async def score_measure(
    session: AsyncSession, measure_id: uuid.UUID, as_of: datetime, selector: PeriodSelector
) -> MeasureScore:
    definition = await load_definition(session, await scorecard_of_measure(session, measure_id))
    windows = measure_windows(definition, measure_id, as_of, selector)
    stats = await fetch_window_stats(session, definition, windows)
    return evaluate_measure(definition, measure_id, as_of, selector, stats)


def _check_history_size(points: list[object]) -> None:
    if len(points) > MAX_HISTORY_PERIODS:
        raise ValidationFailed.at(
            ["query", "from"],
            f"that range spans {len(points)} periods; at most {MAX_HISTORY_PERIODS} per request",
        )


async def scorecard_history(
    session: AsyncSession,
    scorecard_id: uuid.UUID,
    start: datetime,
    end: datetime,
    cadence: Cadence,
    now: datetime,
) -> list[ScorecardHistoryEntry]:
    definition = await load_definition(session, scorecard_id)
    points = scorecard_history_points(definition, start, end, now, cadence)
    _check_history_size(list(points))
    stats = await fetch_window_stats(
        session, definition, scorecard_history_windows(definition, points)
    )
    return evaluate_scorecard_history(definition, points, stats)


async def measure_history(
    session: AsyncSession,
    measure_id: uuid.UUID,
    start: datetime,
    end: datetime,
    now: datetime,
) -> tuple[Cadence, list[MeasureHistoryEntry]]:
    definition = await load_definition(session, await scorecard_of_measure(session, measure_id))
    points = measure_history_points(definition, measure_id, start, end, now)
    _check_history_size(list(points))
    windows = measure_history_windows(definition, measure_id, points)
    stats = await fetch_window_stats(session, definition, windows)
    cadence = next(m.cadence for m in definition.measures if m.id == measure_id)
    return cadence, evaluate_measure_history(definition, measure_id, points, stats)
