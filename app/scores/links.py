"""Window statistics with linked measures resolved: a linked measure's window is answered with
its source's value (`app.scoring.links`), fetched level by level.

Each level of linking costs one query (the definitions its sources live in, sent only when the
held ones are stale); the readings of every level come from one statement at the end; then the
levels are evaluated deepest first, so a source that is itself linked is answered before the
measures that link to it. A read never follows more than MAX_LEVELS links (writes refuse
deeper chains); a window beyond that, or whose source was deleted meanwhile, has no data."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from asyncpg import Connection

from app.scores.data import Definitions, fetch_window_stats, load_definitions
from app.scoring import (
    MeasureDefinition,
    ScorecardDefinition,
    Window,
    WindowStats,
    source_value,
    source_windows,
)

MAX_LEVELS = 5

Request = tuple[Window, MeasureDefinition]  # a linked measure's window


async def resolve_window_stats(
    connection: Connection,
    definitions: Definitions,
    definition: ScorecardDefinition,
    windows: Collection[Window],
) -> dict[Window, WindowStats]:
    """Statistics of `windows` (of `definition`'s measures): from readings, or for a linked
    measure the source's value as `latest_value`. Without links, exactly `fetch_window_stats`."""
    if not definition.linked:
        return await fetch_window_stats(connection, definition, windows)
    measures: dict[uuid.UUID, MeasureDefinition] = dict(definition.measures_by_id)
    home: dict[uuid.UUID, ScorecardDefinition] = {m: definition for m in measures}
    loaded: dict[uuid.UUID, ScorecardDefinition] = {definition.id: definition}
    raw: set[Window] = set()

    def split(candidates: Collection[Window]) -> list[Request]:
        linked: list[Request] = []
        for window in candidates:
            measure = measures.get(window.measure_id)
            if measure is not None and measure.linked:
                linked.append((window, measure))
            else:
                raw.add(window)
        return linked

    levels: list[list[tuple[Request, ScorecardDefinition]]] = []
    frontier = split(windows)
    seen: set[Window] = {window for window, _ in frontier}
    while frontier and len(levels) < MAX_LEVELS:
        scorecard_ids = {m.source_scorecard_id for _, m in frontier if m.source_scorecard_id}
        measure_ids = {m.source_measure_id for _, m in frontier if m.source_measure_id}
        wanted_scorecards = scorecard_ids - loaded.keys()
        wanted_measures = measure_ids - measures.keys()
        if wanted_scorecards or wanted_measures:
            for found in await load_definitions(
                connection, definitions, wanted_scorecards, wanted_measures
            ):
                loaded[found.id] = found
                for measure in found.measures:
                    measures.setdefault(measure.id, measure)
                    home.setdefault(measure.id, found)
        level: list[tuple[Request, ScorecardDefinition]] = []
        following: list[Window] = []
        for window, linked in frontier:
            source = (
                loaded.get(linked.source_scorecard_id)
                if linked.source_scorecard_id
                else home.get(linked.source_measure_id)  # type: ignore[arg-type]
            )
            if source is None:  # deleted since the definition was read
                continue
            level.append(((window, linked), source))
            following.extend(source_windows(source, linked, window))
        levels.append(level)
        frontier = [r for r in split(following) if r[0] not in seen]
        seen.update(window for window, _ in frontier)
    stats = await fetch_window_stats(connection, definition, raw)
    for level in reversed(levels):
        for (window, linked), source in level:
            value = source_value(source, linked, window, stats)
            if value is not None:
                stats[window] = WindowStats(latest_value=value)
    return stats
