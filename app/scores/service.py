"""Scores on read: load definitions, fetch every window's statistics in one query, evaluate.
Read-only, on a connection from the app's read pool (no ORM session, no transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from asyncpg import Connection, Pool
from pydantic import TypeAdapter

from app.core.errors import NotFound, ValidationFailed
from app.scores.cache import ScoreCache
from app.scores.data import (
    Definitions,
    fetch_commentary,
    load_definition,
    load_scorecard,
    scorecard_of_measure,
)
from app.scores.links import resolve_window_stats
from app.scoring import (
    Cadence,
    MeasureHistoryEntry,
    MeasureScore,
    Period,
    PeriodSelector,
    ScorecardDefinition,
    ScorecardHistoryEntry,
    ScorecardScore,
    Source,
    commentary_keys,
    evaluate_measure,
    evaluate_measure_history,
    evaluate_scorecard,
    evaluate_scorecard_history,
    evaluate_scorecard_history_trees,
    history_with_commentary,
    measure_history_points,
    measure_history_windows,
    measure_windows,
    measure_with_commentary,
    scorecard_history_points,
    scorecard_history_windows,
    scorecard_windows,
    source_of,
    with_commentary,
)

MAX_HISTORY_PERIODS = 500


_SCORECARD_SCORE = TypeAdapter(ScorecardScore)


# Runs a read on a connection of its choosing (`ReadRouter.run`: a caught-up replica's).
Evaluate = Callable[[Connection], Awaitable[ScorecardScore]]
Elsewhere = Callable[[Evaluate], Awaitable[ScorecardScore]]


async def score_scorecard_json(
    connection: Connection | Pool,
    definitions: Definitions,
    cache: ScoreCache,
    scorecard_id: uuid.UUID,
    as_of: datetime | None,
    selector: PeriodSelector,
    *,
    elsewhere: Elsewhere | None = None,
) -> bytes:
    """The scorecard's score as JSON, at `as_of` (None: now), reused from `cache` while valid
    (see `app.scores.cache`). With `elsewhere`, only the version is read on `connection` (the
    primary): a cached score needs nothing more; a new one is computed where `elsewhere`
    runs it (a read replica)."""
    # The version is read before the readings: a score is never older than its cache key.
    loaded = await load_scorecard(connection, definitions, scorecard_id)
    # A linked measure's value moves with other scorecards' data, which the version does not
    # follow: such a scorecard is computed afresh every time.
    cacheable = not loaded.definition.linked
    key = (scorecard_id, selector, as_of, None if as_of is None else as_of.utcoffset())
    if cacheable and (body := cache.get(key, loaded.version)) is not None:
        return body
    instant = as_of or datetime.now(UTC)

    def evaluate(on: Connection) -> Awaitable[ScorecardScore]:
        return _evaluate_scorecard(on, definitions, loaded.definition, instant, selector)

    score = await (evaluate(connection) if elsewhere is None else elsewhere(evaluate))
    # The result dataclasses carry exactly the API's field names: serialized in one pass.
    body = _SCORECARD_SCORE.dump_json(score)
    if cacheable:
        cache.put(key, loaded.version, body)
    return body


async def score_scorecard(
    connection: Connection,
    definitions: Definitions,
    scorecard_id: uuid.UUID,
    as_of: datetime,
    selector: PeriodSelector,
) -> tuple[ScorecardDefinition, ScorecardScore]:
    """The scorecard's score tree at `as_of`, with the definition it was computed from."""
    definition = (await load_scorecard(connection, definitions, scorecard_id)).definition
    return definition, await _evaluate_scorecard(
        connection, definitions, definition, as_of, selector
    )


async def _evaluate_scorecard(
    connection: Connection,
    definitions: Definitions,
    definition: ScorecardDefinition,
    instant: datetime,
    selector: PeriodSelector,
) -> ScorecardScore:
    stats = await resolve_window_stats(
        connection, definitions, definition, scorecard_windows(definition, instant, selector)
    )
    score = evaluate_scorecard(definition, instant, selector, stats)
    # Commentary is part of the cached body: writing some moves the measure's data stamp.
    notes = await fetch_commentary(connection, commentary_keys(score))
    return with_commentary(score, notes, definition.commentary_required_for)


async def score_measure(
    connection: Connection,
    definitions: Definitions,
    measure_id: uuid.UUID,
    as_of: datetime,
    selector: PeriodSelector,
) -> MeasureScore:
    definition = await _definition_of_measure(connection, definitions, measure_id)
    windows = measure_windows(definition, measure_id, as_of, selector)
    stats = await resolve_window_stats(connection, definitions, definition, windows)
    score = evaluate_measure(definition, measure_id, as_of, selector, stats)
    notes = await fetch_commentary(connection, [(measure_id, score.period)])
    return measure_with_commentary(score, notes, definition.commentary_required_for)


async def _definition_of_measure(
    connection: Connection, definitions: Definitions, measure_id: uuid.UUID
) -> ScorecardDefinition:
    definition = await load_definition(
        connection, definitions, await scorecard_of_measure(connection, measure_id)
    )
    if measure_id not in definition.measures_by_id:  # deleted between the two statements
        raise NotFound(f"measure {measure_id} not found")
    return definition


def _check_history_size(points: list[object]) -> None:
    if len(points) > MAX_HISTORY_PERIODS:
        raise ValidationFailed.at(
            ["query", "from"],
            f"that range spans {len(points)} periods; at most {MAX_HISTORY_PERIODS} per request",
        )


async def scorecard_history(
    connection: Connection,
    definitions: Definitions,
    scorecard_id: uuid.UUID,
    start: datetime,
    end: datetime,
    cadence: Cadence,
    now: datetime,
) -> list[ScorecardHistoryEntry]:
    definition = await load_definition(connection, definitions, scorecard_id)
    points = scorecard_history_points(definition, start, end, now, cadence)
    _check_history_size(list(points))
    stats = await resolve_window_stats(
        connection, definitions, definition, scorecard_history_windows(definition, points)
    )
    return evaluate_scorecard_history(definition, points, stats)


async def measure_history(
    connection: Connection,
    definitions: Definitions,
    measure_id: uuid.UUID,
    start: datetime,
    end: datetime,
    now: datetime,
) -> tuple[Cadence, Source | None, list[MeasureHistoryEntry]]:
    definition = await _definition_of_measure(connection, definitions, measure_id)
    points = measure_history_points(definition, measure_id, start, end, now)
    _check_history_size(list(points))
    windows = measure_history_windows(definition, measure_id, points)
    stats = await resolve_window_stats(connection, definitions, definition, windows)
    cadence = next(m.cadence for m in definition.measures if m.id == measure_id)
    entries = evaluate_measure_history(definition, measure_id, points, stats)
    notes = await fetch_commentary(connection, [(measure_id, e.period) for e in entries])
    source = source_of(definition.measures_by_id[measure_id])
    return cadence, source, history_with_commentary(measure_id, entries, notes)


async def scorecard_history_trees(
    connection: Connection,
    definitions: Definitions,
    definition: ScorecardDefinition,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[tuple[Period, ScorecardScore]]:
    """The whole score tree per month of `[start, end)` (one query: the definition is the
    caller's)."""
    points = scorecard_history_points(definition, start, end, now, Cadence.month)
    _check_history_size(list(points))
    stats = await resolve_window_stats(
        connection, definitions, definition, scorecard_history_windows(definition, points)
    )
    return evaluate_scorecard_history_trees(definition, points, stats)
