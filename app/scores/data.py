"""What the scoring engine needs from the database: definitions, and statistics for windows.
Plain statements on an asyncpg connection (a pooled one, or a session's `driver_connection`).

Window statistics for any number of measures and periods come from ONE statement: the windows
are passed as arrays. Per window, the aggregates add up the window's whole days from the
rollups (`reading_rollups`, one row per measure and UTC day) and the readings of the partial
days at its two edges (index-only range scans on the `(measure_id, observed_at DESC) INCLUDE
(value)` index; of an edge's day, the shorter part), and the latest reading is a one-row
descent of that index: so the cost follows the days in the requested periods, not the readings
in them nor the length of history.
Only the windows of `distinct_subjects` measures run one more subquery, which reads the rows
themselves (a count of distinct subjects does not add up across days).
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from asyncpg import Connection, Pool

from app.core.errors import NotFound
from app.scoring import (
    Aggregation,
    Cadence,
    Commentary,
    CommentaryKey,
    Direction,
    Formula,
    InitiativeDefinition,
    MeasureDefinition,
    ObjectiveDefinition,
    Period,
    PerspectiveDefinition,
    ScorecardDefinition,
    Status,
    TargetStep,
    Thresholds,
    Window,
    WindowStats,
    parse_formula,
)
from app.scoring.windows import NO_READINGS

# Readings are rolled up per measure and UTC day (`reading_rollups`, kept by
# app/readings/rollups.py): a fixed interval, so the periods of every timezone (+05:30 and
# +05:45 included) are served exactly. A window takes its whole days from the rollups and only
# the partial days at its two edges from `readings`:
# - lo is `start` rounded up to a day (at most `until`), hi is `until` rounded down (at least
#   lo); the days [lo, hi) come from the rollups, the edges [start, lo) and [hi, until) from
#   the readings. A window inside one day has lo = hi and reads only readings.
# - An edge's day is split by the window's edge; when the part outside the window is the
#   shorter one, the edge is that day's rollup minus the readings outside (`head_out`,
#   `tail_out`): a monthly window of a zone at UTC+1 reads 2 hours of readings, not 24. Not for
#   the windows of `min`/`max` measures (a minimum cannot be subtracted): they read the inside
#   parts, and only they get `minimum` and `maximum` (NULL for the others, which never use
#   them), as only `distinct_subjects` measures get `subjects`.
# - A part that is empty (an edge on a UTC midnight, no whole day) is skipped by its one-time
#   filter, without an index descent. Both edges feed one aggregate.
# The rollups' primary key carries their columns (migration 0013): index-only scans, about half
# the time of fetching each day's row from the heap at 10^6 readings; `n` is an integer, so its
# sum is a bigint, not a numeric.
# In hours: `+ interval '1 day'` on a timestamptz follows the session's zone across DST.
ROLLUP_BUCKET = "interval '24 hours'"


def rollup_bucket_of(at: str) -> str:
    """SQL: the start of the rollup bucket (UTC day) of the timestamptz expression `at`. The
    origin is the first instant Python can name: PostgreSQL 16.2's `date_bin` rounds instants
    before its origin up, not down. (`date_trunc('day', at, 'UTC')` is right too, but looks the
    zone up on every call: a 24-month history took 1.2x as long.)"""
    return f"date_bin({ROLLUP_BUCKET}, {at}, TIMESTAMPTZ '0001-01-01 00:00:00+00')"


# Columns are read by name (`window_stats`); `extra` columns and `join`s are added by crossing
# detection (app/thresholds/increments.py), which carries the statistics forward.
WINDOW_STATS_TEMPLATE = (
    """
SELECT w.ord, agg.n, agg.total, agg.minimum, agg.maximum,
    latest.value AS latest_value, latest.observed_at AS latest_observed_at,
    subjects.n AS subjects{extra}
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::bool[], $5::bool[], $6::bool[])
     WITH ORDINALITY AS w(measure_id, start, until, aggregate, by_subject, extremes, ord)
CROSS JOIN LATERAL (
    SELECT DAY_OF(w.start) AS start_day, DAY_OF(w.until) AS until_day
) d0
CROSS JOIN LATERAL (
    SELECT CASE WHEN d0.start_day = w.start THEN w.start ELSE d0.start_day + BUCKET END AS start_up
) d1
CROSS JOIN LATERAL (
    SELECT least(d1.start_up, w.until) AS lo,
           greatest(d0.until_day, least(d1.start_up, w.until)) AS hi
) d2
CROSS JOIN LATERAL (
    SELECT NOT w.extremes AND d1.start_up <= w.until
               AND w.start - d0.start_day < d1.start_up - w.start AS head_out,
           NOT w.extremes AND d2.hi < w.until
               AND d2.hi + BUCKET - w.until < w.until - d2.hi AS tail_out
) c
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.head_out THEN d0.start_day ELSE w.start END AS head_from,
           CASE WHEN c.head_out THEN w.start ELSE d2.lo END AS head_to,
           CASE WHEN c.tail_out THEN w.until ELSE d2.hi END AS tail_from,
           CASE WHEN c.tail_out THEN d2.hi + BUCKET ELSE w.until END AS tail_to,
           CASE WHEN c.head_out THEN d2.lo - BUCKET ELSE d2.lo END AS days_from,
           CASE WHEN c.tail_out THEN d2.hi + BUCKET ELSE d2.hi END AS days_to
) d
CROSS JOIN LATERAL (
    SELECT coalesce(sum(e.sign), 0) AS n, sum(e.sign * e.value) AS total,
           min(e.value) AS minimum, max(e.value) AS maximum
    FROM (
        SELECT CASE WHEN c.head_out THEN -1 ELSE 1 END AS sign, r.value FROM readings r
        WHERE w.aggregate AND d.head_from < d.head_to AND r.measure_id = w.measure_id
          AND r.observed_at >= d.head_from AND r.observed_at < d.head_to
        UNION ALL
        SELECT CASE WHEN c.tail_out THEN -1 ELSE 1 END, r.value FROM readings r
        WHERE w.aggregate AND d.tail_from < d.tail_to AND r.measure_id = w.measure_id
          AND r.observed_at >= d.tail_from AND r.observed_at < d.tail_to
    ) e
) edges
CROSS JOIN LATERAL (
    SELECT coalesce(sum(u.n), 0) AS n, sum(u.total) AS total, min(u.minimum) AS minimum,
           max(u.maximum) AS maximum
    FROM reading_rollups u
    WHERE w.aggregate AND d.days_from < d.days_to AND u.measure_id = w.measure_id
      AND u.bucket_start >= d.days_from AND u.bucket_start < d.days_to
) days
CROSS JOIN LATERAL (
    SELECT edges.n + days.n AS n,
           CASE WHEN edges.n + days.n > 0 THEN coalesce(edges.total, 0) + coalesce(days.total, 0)
           END AS total,
           CASE WHEN w.extremes THEN least(edges.minimum, days.minimum) END AS minimum,
           CASE WHEN w.extremes THEN greatest(edges.maximum, days.maximum) END AS maximum
) agg
CROSS JOIN LATERAL (
    SELECT count(DISTINCT r.subject) AS n
    FROM readings r
    WHERE w.by_subject
      AND r.measure_id = w.measure_id AND r.observed_at >= w.start AND r.observed_at < w.until
      AND r.value <> 0
) subjects
LEFT JOIN LATERAL (
    SELECT r.id, r.value, r.observed_at
    FROM readings r
    WHERE r.measure_id = w.measure_id AND r.observed_at < w.until
    ORDER BY r.observed_at DESC, r.id DESC
    LIMIT 1
) latest ON true{join}
"""
    # Filled in here, not by format(): `extra` and `join` are left for the callers.
    .replace("DAY_OF(w.start)", rollup_bucket_of("w.start"))
    .replace("DAY_OF(w.until)", rollup_bucket_of("w.until"))
    .replace("BUCKET", ROLLUP_BUCKET)
)
_WINDOW_STATS = WINDOW_STATS_TEMPLATE.format(extra="", join="")


def _needs_aggregates(definition: ScorecardDefinition, windows: Sequence[Window]) -> list[bool]:
    """A `latest` measure's value and trend come from the latest reading alone; only its own
    newest window reports `readings_in_period`. Skipping the range scan on its other windows
    (previous periods, history) keeps the cost of `latest` scorecards flat as history grows."""
    latest = definition.ids_by_aggregation[Aggregation.latest]
    newest: dict[uuid.UUID, datetime] = {}
    for w in windows:
        if w.measure_id in latest and w.until > newest.get(w.measure_id, w.start):
            newest[w.measure_id] = w.until
    return [w.measure_id not in latest or w.until == newest[w.measure_id] for w in windows]


def _needs_extremes(definition: ScorecardDefinition, windows: Sequence[Window]) -> list[bool]:
    """Minimum and maximum, for `min`/`max` measures (and any measure not in `definition`)."""
    plain = {
        measure.id
        for measure in definition.measures
        if measure.aggregation not in (Aggregation.min, Aggregation.max)
    }
    return [w.measure_id not in plain for w in windows]


def _counts_subjects(definition: ScorecardDefinition, windows: Sequence[Window]) -> list[bool]:
    """Only `distinct_subjects` measures need their subjects counted."""
    by_subject = definition.ids_by_aggregation[Aggregation.distinct_subjects]
    return [w.measure_id in by_subject for w in windows]


async def fetch_window_stats(
    connection: Connection, definition: ScorecardDefinition, windows: Collection[Window]
) -> dict[Window, WindowStats]:
    """Statistics of each window that has readings (one statement)."""
    return {
        window: stats
        for window, row in await fetch_windows(connection, _WINDOW_STATS, definition, windows)
        if (stats := window_stats(row)) != NO_READINGS
    }


async def fetch_windows(
    connection: Connection,
    statement: str,
    definition: ScorecardDefinition,
    windows: Collection[Window],
) -> list[tuple[Window, Any]]:
    """Each window with its row of `statement` (a `WINDOW_STATS_TEMPLATE` filled in)."""
    if not windows:
        return []
    ordered: Sequence[Window] = list(windows)
    rows = await connection.fetch(
        statement,
        [w.measure_id for w in ordered],
        [w.start for w in ordered],
        [w.until for w in ordered],
        _needs_aggregates(definition, ordered),
        _counts_subjects(definition, ordered),
        _needs_extremes(definition, ordered),
    )
    return [(ordered[row["ord"] - 1], row) for row in rows]


def window_stats(row: Any) -> WindowStats:
    return WindowStats(
        count=row["n"],
        total=row["total"],
        minimum=row["minimum"],
        maximum=row["maximum"],
        latest_value=row["latest_value"],
        latest_observed_at=row["latest_observed_at"],
        subjects=row["subjects"],
    )


def _thresholds(raw: str | None) -> Thresholds | None:
    bands = None if raw is None else json.loads(raw)  # SQL NULL or JSON null: none of its own
    return None if bands is None else Thresholds(**bands)


# The definition in ONE statement, objectives, measures and initiatives as arrays of anonymous
# records (asyncpg decodes them to tuples), without ORM hydration. `definition_stamp` changes with
# any edit of the definition (kept by triggers, migrations 0004, 0007 and 0008) and is never reused,
# so a process that holds the definition for a stamp skips the arrays: they are only sent when
# $2 is stale.
_OBJECTIVE_COLUMNS = "o.id, o.name, o.perspective, o.weight"
_MEASURE_COLUMNS = """m.id, m.key, m.name, m.unit, m.weight, m.perspective, m.objective_id,
    m.direction, m.aggregation, m.cadence, m.baseline, m.target, m.target_min, m.target_max,
    m.tolerance, m.prorate, m.thresholds::text, m.formula, m.targets::text, m.source_measure_id,
    m.source_scorecard_id"""
# Initiatives (app/initiatives) are read here by plain SQL, below the package that writes them:
# their table and link tables are part of the definition (their triggers move the stamp too).
# The links travel as comma-separated text: asyncpg cannot decode a uuid[] inside an anonymous
# record on a connection that has not met the type before.
_INITIATIVE_COLUMNS = """i.id, i.name, i.status, i.progress, i.start_date, i.end_date,
    (SELECT string_agg(l.objective_id::text, ',' ORDER BY l.objective_id)
     FROM initiative_objectives l WHERE l.initiative_id = i.id),
    (SELECT string_agg(l.measure_id::text, ',' ORDER BY l.measure_id)
     FROM initiative_measures l WHERE l.initiative_id = i.id)"""
# `HELD` stands for the stamp of the definition the caller holds (0: none).
_DEFINITION_COLUMNS = f"""s.definition_stamp,
    s.timezone, s.thresholds::text AS thresholds, s.score_cap,
    s.perspectives::text AS perspectives,
    s.commentary_required_for::text AS commentary_required_for,
    CASE WHEN s.definition_stamp <> HELD THEN
        ARRAY(SELECT ROW({_OBJECTIVE_COLUMNS}) FROM objectives o
              WHERE o.scorecard_id = s.id ORDER BY o.id) END AS objectives,
    CASE WHEN s.definition_stamp <> HELD THEN
        ARRAY(SELECT ROW({_MEASURE_COLUMNS}) FROM measures m
              WHERE m.scorecard_id = s.id ORDER BY m.id) END AS measures,
    CASE WHEN s.definition_stamp <> HELD THEN
        ARRAY(SELECT ROW({_INITIATIVE_COLUMNS}) FROM initiatives i
              WHERE i.scorecard_id = s.id ORDER BY i.id) END AS initiatives"""  # noqa: S608
_DEFINITION = f"""
SELECT (SELECT sum(m.data_stamp) FROM measures m WHERE m.scorecard_id = s.id) AS data_version,
    {_DEFINITION_COLUMNS.replace("HELD", "$2")}
FROM scorecards s WHERE s.id = $1
"""  # noqa: S608 (built from constants)
# The definitions of the scorecards $1 and of the scorecards of the measures $2, in one
# statement, for linked measures (`app.scores.links`); $3/$4: the stamps held.
_DEFINITIONS = f"""
WITH wanted AS (
    SELECT id FROM scorecards WHERE id = ANY($1::uuid[])
    UNION SELECT scorecard_id FROM measures WHERE id = ANY($2::uuid[])
)
SELECT s.id, {_DEFINITION_COLUMNS.replace("HELD", "coalesce(h.stamp, 0)")}
FROM wanted JOIN scorecards s ON s.id = wanted.id
LEFT JOIN unnest($3::uuid[], $4::bigint[]) AS h(id, stamp) ON h.id = s.id
"""  # noqa: S608 (built from constants)


def measure_definition(
    row: tuple[Any, ...], formula: Callable[[str], Formula] = parse_formula
) -> MeasureDefinition:
    (
        id_,
        key,
        name,
        unit,
        weight,
        perspective,
        objective_id,
        direction,
        aggregation,
        cadence,
        baseline,
        target,
        target_min,
        target_max,
        tolerance,
        prorate,
        thresholds,
        formula_text,
        targets,
        source_measure_id,
        source_scorecard_id,
    ) = row
    return MeasureDefinition(
        id=id_,
        key=key,
        name=name,
        unit=unit,
        weight=weight,
        perspective=perspective,
        objective_id=objective_id,
        direction=Direction(direction),
        aggregation=Aggregation(aggregation),
        cadence=Cadence(cadence),
        baseline=baseline,
        target=target,
        target_min=target_min,
        target_max=target_max,
        tolerance=tolerance,
        prorate=prorate,
        thresholds=_thresholds(thresholds),
        formula=formula(formula_text) if formula_text else None,
        targets=_target_steps(targets),
        source_measure_id=source_measure_id,
        source_scorecard_id=source_scorecard_id,
    )


def _target_steps(raw: str | None) -> tuple[TargetStep, ...]:
    steps = None if raw is None else json.loads(raw)
    return tuple(
        TargetStep(
            starts=datetime.fromisoformat(step["from"]),
            baseline=step.get("baseline"),
            target=step.get("target"),
            target_min=step.get("target_min"),
            target_max=step.get("target_max"),
            thresholds=None if step.get("thresholds") is None else Thresholds(**step["thresholds"]),
        )
        for step in steps or ()
    )


def _ids(joined: str | None) -> tuple[uuid.UUID, ...]:
    return () if joined is None else tuple(uuid.UUID(i) for i in joined.split(","))


def initiative_definition(row: tuple[Any, ...]) -> InitiativeDefinition:
    id_, name, status, progress, start_date, end_date, objective_ids, measure_ids = row
    return InitiativeDefinition(
        id=id_,
        name=name,
        status=status,
        progress=progress,
        start_date=start_date,
        end_date=end_date,
        objective_ids=_ids(objective_ids),
        measure_ids=_ids(measure_ids),
    )


def scorecard_definition(
    scorecard_id: uuid.UUID,
    row: Any,
    formula: Callable[[str], Formula] = parse_formula,
) -> ScorecardDefinition:
    return ScorecardDefinition(
        id=scorecard_id,
        timezone=ZoneInfo(row["timezone"]),
        thresholds=Thresholds(**json.loads(row["thresholds"])),
        score_cap=row["score_cap"],
        perspectives=[
            PerspectiveDefinition(p["key"], p["name"], p["weight"])
            for p in json.loads(row["perspectives"])
        ],
        # Anonymous records, in the order of _OBJECTIVE_COLUMNS, _MEASURE_COLUMNS and
        # _INITIATIVE_COLUMNS.
        objectives=[ObjectiveDefinition(*objective) for objective in row["objectives"]],
        measures=[measure_definition(measure, formula) for measure in row["measures"]],
        initiatives=[initiative_definition(initiative) for initiative in row["initiatives"]],
        commentary_required_for=frozenset(
            Status(status) for status in json.loads(row["commentary_required_for"])
        ),
    )


class Definitions:
    """The scorecard definitions this process holds, each under the `definition_stamp` it was
    read at (edits move the stamp, so a held definition is only ever used if still current),
    least recently used first out; with the measures' scorecards, and parsed formulas (shared
    by definitions and reused across edits). One per app (`app.state.definitions`, built in its
    lifespan) or worker, shared by score reads and crossing detection."""

    def __init__(self, max_entries: int = 1024, max_formulas: int = 4096) -> None:
        self.max_entries, self.max_formulas = max_entries, max_formulas
        self.reset()

    def reset(self) -> None:
        self._held: OrderedDict[uuid.UUID, tuple[int, ScorecardDefinition]] = OrderedDict()
        self._scorecard_of: dict[uuid.UUID, uuid.UUID] = {}  # of the held definitions' measures
        self._formulas: OrderedDict[str, Formula] = OrderedDict()

    def get(self, scorecard_id: uuid.UUID) -> tuple[int, ScorecardDefinition | None]:
        """The definition held and its stamp; (0, None) if none (stamps start at 1)."""
        held = self._held.get(scorecard_id)
        if held is None:
            return 0, None
        self._held.move_to_end(scorecard_id)
        return held

    def put(self, scorecard_id: uuid.UUID, stamp: int, definition: ScorecardDefinition) -> None:
        if (replaced := self._held.pop(scorecard_id, None)) is not None:
            self._forget_measures(replaced[1])
        self._held[scorecard_id] = (stamp, definition)
        self._scorecard_of.update((measure.id, scorecard_id) for measure in definition.measures)
        while len(self._held) > self.max_entries:
            self._forget_measures(self._held.popitem(last=False)[1][1])

    def _forget_measures(self, definition: ScorecardDefinition) -> None:
        for measure in definition.measures:
            if self._scorecard_of.get(measure.id) == definition.id:
                del self._scorecard_of[measure.id]

    def of_measures(self, measure_ids: Iterable[uuid.UUID]) -> list[ScorecardDefinition]:
        """The definitions held of the scorecards of these measures: possibly stale, for
        guesses that the caller checks against `definition_stamp`."""
        scorecard_ids = {self._scorecard_of[i] for i in measure_ids if i in self._scorecard_of}
        return [self._held[i][1] for i in scorecard_ids if i in self._held]

    def held_of(
        self, scorecard_ids: Iterable[uuid.UUID], measure_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[int, ScorecardDefinition]]:
        """The definitions held (with their stamps) of these scorecards and these measures'."""
        wanted = set(scorecard_ids) | {
            self._scorecard_of[i] for i in measure_ids if i in self._scorecard_of
        }
        return {i: self._held[i] for i in wanted if i in self._held}

    def formula(self, text: str) -> Formula:
        """Formulas are immutable: each text is parsed once while it is in use."""
        if (parsed := self._formulas.get(text)) is None:
            parsed = self._formulas[text] = parse_formula(text)
            if len(self._formulas) > self.max_formulas:
                self._formulas.popitem(last=False)
        else:
            self._formulas.move_to_end(text)
        return parsed


async def load_definition(
    connection: Connection,
    definitions: Definitions,
    scorecard_id: uuid.UUID,
    stamp: int | None = None,
) -> ScorecardDefinition:
    """The scorecard as the engine sees it (measures and objectives in creation order). With
    the `stamp` the caller has just read (e.g. `LockedMeasure.definition_stamp`) and a held
    definition of that stamp, no query at all; otherwise one, which sends the definition only
    when the held one is stale."""
    stamp_held, definition = definitions.get(scorecard_id)
    if definition is not None and stamp == stamp_held:
        return definition
    return (await load_scorecard(connection, definitions, scorecard_id)).definition


@dataclass(frozen=True, slots=True)
class LoadedScorecard:
    definition: ScorecardDefinition
    # Changes with any committed change of what its scores are computed from: the definition
    # or any measure's readings (migration 0004). Equal versions, equal scores at one instant.
    version: tuple[int, Decimal]


async def load_scorecard(
    connection: Connection | Pool, definitions: Definitions, scorecard_id: uuid.UUID
) -> LoadedScorecard:
    """The definition (held across requests in `definitions`) and the version of the
    scorecard's data, in one query that sends the definition only when the held one is stale."""
    stamp_held, definition = definitions.get(scorecard_id)
    row = await connection.fetchrow(_DEFINITION, scorecard_id, stamp_held)
    if row is None:
        raise NotFound(f"scorecard {scorecard_id} not found")
    stamp, data_version = row["definition_stamp"], row["data_version"] or Decimal(0)
    if definition is None or stamp != stamp_held:
        definition = scorecard_definition(scorecard_id, row, definitions.formula)
        definitions.put(scorecard_id, stamp, definition)
    return LoadedScorecard(definition, (stamp, data_version))


async def load_definitions(
    connection: Connection,
    definitions: Definitions,
    scorecard_ids: Collection[uuid.UUID],
    measure_ids: Collection[uuid.UUID],
) -> list[ScorecardDefinition]:
    """The definitions of these scorecards and of these measures' scorecards (those that
    exist), in one query that sends only the definitions held stale or not at all."""
    held = definitions.held_of(scorecard_ids, measure_ids)
    rows = await connection.fetch(
        _DEFINITIONS,
        list(scorecard_ids),
        list(measure_ids),
        list(held),
        [stamp for stamp, _ in held.values()],
    )
    loaded = []
    for row in rows:
        scorecard_id, stamp = row["id"], row["definition_stamp"]
        stamp_held, definition = held.get(scorecard_id, (0, None))
        if definition is None or stamp != stamp_held:
            definition = scorecard_definition(scorecard_id, row, definitions.formula)
            definitions.put(scorecard_id, stamp, definition)
        loaded.append(definition)
    return loaded


_MEASURE_SCORECARD = "SELECT scorecard_id FROM measures WHERE id = $1"


async def scorecard_of_measure(connection: Connection, measure_id: uuid.UUID) -> uuid.UUID:
    scorecard_id = await connection.fetchval(_MEASURE_SCORECARD, measure_id)
    if scorecard_id is None:
        raise NotFound(f"measure {measure_id} not found")
    return scorecard_id  # type: ignore[no-any-return]


# Commentary of any number of (measure, period) pairs in one statement, on the primary key. The
# period's end must match too: after a cadence change, a day that starts with a month does not
# inherit the month's note.
_COMMENTARY = """
SELECT c.measure_id, c.period_start, c.period_end, c.analysis, c.actions
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS k(measure_id, start, until)
JOIN commentary c
  ON c.measure_id = k.measure_id AND c.period_start = k.start AND c.period_end = k.until
"""


async def fetch_commentary(
    connection: Connection, keys: Collection[CommentaryKey]
) -> dict[CommentaryKey, Commentary]:
    """The commentary written for each (measure, period) that has some (one statement)."""
    if not keys:
        return {}
    ordered = list(keys)
    rows = await connection.fetch(
        _COMMENTARY,
        [measure_id for measure_id, _ in ordered],
        [period.start for _, period in ordered],
        [period.end for _, period in ordered],
    )
    return {
        (row["measure_id"], Period(row["period_start"], row["period_end"])): Commentary(
            row["analysis"], row["actions"]
        )
        for row in rows
    }
