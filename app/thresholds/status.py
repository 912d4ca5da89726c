"""Crossing detection: a measure's stored `status` follows its score, and every change is
recorded as a `measure.threshold_crossed` event in the same transaction (the outbox).

Writers call `refresh_statuses` with the measures they changed, already locked; the sweeper
calls `sweep_scorecard` to catch changes that only time makes (a new period, a prorated
target moving)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import driver_connection
from app.scores.data import Definitions, load_definition
from app.scores.links import resolve_window_stats
from app.scoring import (
    MeasureScore,
    PeriodSelector,
    ScorecardDefinition,
    Window,
    evaluate_measure,
    measure_windows,
    thresholds_in_effect,
)
from app.thresholds.increments import (
    Added,
    KnownWindow,
    WindowCache,
    carries_forward,
    fetch_known_windows,
)
from app.webhooks.events import THRESHOLD_CROSSED, emit_event


@dataclass(frozen=True, slots=True)
class CrossingCaches:
    """What crossing detection reuses across transactions: the definitions (shared with score
    reads) and the window statistics its writes left. Built in the app's lifespan or by the
    worker and handed to sessions through their sessionmaker (`session_info`)."""

    definitions: Definitions
    windows: WindowCache

    def reset(self) -> None:
        self.definitions.reset()
        self.windows.reset()

    def session_info(self) -> dict[str, object]:
        """`info` for `make_sessionmaker`: its sessions detect crossings with these caches."""
        return {_CACHES: self}


_CACHES = "scorecard.crossing_caches"


def crossing_caches() -> CrossingCaches:
    """Fresh caches for a process that writes (the app's lifespan, the worker, a benchmark)."""
    return CrossingCaches(Definitions(), WindowCache())


def _caches(session: AsyncSession) -> CrossingCaches:
    """The session's caches; a session from any other sessionmaker (a one-off command, a
    benchmark) gets caches of its own, which go with it."""
    caches = session.info.get(_CACHES)
    if caches is None:
        caches = session.info[_CACHES] = crossing_caches()
    return caches


_SWEEP_LOCK = 0x5C0E5EE9  # advisory-lock namespace: one sweeper per scorecard at a time
log = structlog.get_logger(__name__)


def _with_dependents(
    definition: ScorecardDefinition, measure_ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    """`measure_ids` plus every derived measure that uses one of them, transitively."""
    keys = {m.key for m in definition.measures if m.id in measure_ids}
    grew = True
    while grew:
        grew = False
        for measure in definition.measures:
            if measure.formula and measure.key not in keys and measure.formula.keys & keys:
                keys.add(measure.key)
                grew = True
    return {m.id for m in definition.measures if m.key in keys}


def _write_set(definition: ScorecardDefinition, measure_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """`measure_ids`, the derived measures that use them, and those measures' inputs: what a
    writer locks so that it can re-evaluate the dependents from windows it knows."""
    result = _with_dependents(definition, measure_ids)
    pending = [m.formula for m in definition.measures if m.id in result and m.formula]
    while pending:
        for key in pending.pop().keys:
            measure = definition.measures_by_key[key]
            if measure.id not in result:
                result.add(measure.id)
                if measure.formula:
                    pending.append(measure.formula)
    return result


async def _evaluate(
    session: AsyncSession,
    definition: ScorecardDefinition,
    measure_ids: Iterable[uuid.UUID],
    now: datetime,
    locked: dict[uuid.UUID, LockedMeasure],
    added: Sequence[Added] | None,
) -> dict[uuid.UUID, MeasureScore]:
    """Each measure's score in the current period at `now`, without the trend (a status needs
    no previous period). Windows of measures this transaction locked are carried forward from
    `windows_written` when `added` lists every row written since the lock; the rest come from
    one query, and are remembered for the next write."""
    ids = list(measure_ids)
    current = PeriodSelector.current
    windows = set().union(
        *(measure_windows(definition, i, now, current, with_trend=False) for i in ids)
    )
    # Linked measures' windows hold their sources' values, resolved apart (not carried forward:
    # a source's writes do not pass through here).
    by_id = definition.measures_by_id
    linked = {w for w in windows if (m := by_id.get(w.measure_id)) is not None and m.linked}
    windows -= linked
    known: dict[Window, KnownWindow] = {}
    windows_written = _caches(session).windows
    if added is not None:
        for window in windows:
            mine = locked.get(window.measure_id)
            if not carries_forward(definition, window):
                continue
            if mine and (carried := windows_written.get(window, mine.previous_data_stamp, added)):
                known[window] = carried
    missing = [window for window in windows if window not in known]
    connection = await driver_connection(session)
    known |= await fetch_known_windows(connection, definition, missing)
    for window, value in known.items():
        if (mine := locked.get(window.measure_id)) is not None:
            windows_written.put(window, mine.data_stamp, value)
    stats = {window: value.stats for window, value in known.items()}
    if linked:
        definitions = _caches(session).definitions
        stats |= await resolve_window_stats(connection, definitions, definition, linked)
    return {i: evaluate_measure(definition, i, now, current, stats, with_trend=False) for i in ids}


@dataclass(frozen=True, slots=True)
class LockedMeasure:
    """A measure locked by this transaction, with what writers and status refresh need."""

    id: uuid.UUID
    scorecard_id: uuid.UUID
    key: str
    derived: bool
    linked: bool  # takes its values from a source (no readings either)
    status: str
    definition_stamp: int  # of its scorecard, read with the lock: see `load_definition`
    previous_data_stamp: int  # see `increments`
    data_stamp: int  # set by the lock
    # Of its scorecard, read with the lock: a scorecard that moves it locks every measure of
    # its own first (`scorecards.service`), so a writer that holds this lock sees the value
    # that stands until it commits.
    locked_before: datetime | None = None
    requested: bool = True  # False: locked only because it depends on, or feeds, one that is


# Every writer locks measures in this order: measures with readings, then derived ones, each
# in id order (rows are locked as the sort returns them). Locking for a write also moves the
# measure's data stamp (migration 0004), which tells cached scores that they may be stale.
#
# The same statement takes the linked measures that depend on them, in every scorecard
# (`reach`): measures linked to one of them or to its scorecard, transitively, with the derived
# measures of the scorecards so reached (a formula over a linked measure); they sort into the
# same order, so writers that reach one linked measure from different sources cannot deadlock.
#
# Under READ COMMITTED a statement that waited for a lock sees the locked rows as committed
# meanwhile, but every other row as of its start: `seen` (the row versions, xmin, as they were)
# tells whether a measure changed while we waited, and then the definition stamps are read again.
_LOCK = """
WITH RECURSIVE reach(id, scorecard_id, reached) AS (
    SELECT id, scorecard_id, false FROM measures WHERE id = ANY($1::uuid[])
  UNION
    SELECT m.id, m.scorecard_id, true
    FROM reach r JOIN measures m
      ON m.source_measure_id = r.id OR m.source_scorecard_id = r.scorecard_id
      OR (r.reached AND m.formula IS NOT NULL AND m.scorecard_id = r.scorecard_id)
), reached AS (
    SELECT id, bool_and(reached) AS reached FROM reach GROUP BY id
), seen AS (
    SELECT id, xmin AS version FROM measures WHERE id IN (SELECT id FROM reached)
), wanted AS (
    SELECT id, xmin AS version, data_stamp FROM measures WHERE id IN (SELECT id FROM reached)
    ORDER BY formula IS NOT NULL, id FOR NO KEY UPDATE
)
UPDATE measures m SET data_stamp = nextval('data_stamps')
FROM wanted, seen, reached, scorecards s
WHERE m.id = wanted.id AND seen.id = wanted.id AND reached.id = wanted.id
    AND s.id = m.scorecard_id
RETURNING m.id, m.scorecard_id, m.key, m.formula IS NOT NULL AS derived,
    num_nonnulls(m.source_measure_id, m.source_scorecard_id) > 0 AS linked, m.status,
    s.definition_stamp, s.locked_before, wanted.data_stamp AS previous_data_stamp, m.data_stamp,
    NOT (seen.version = wanted.version) AS waited, reached.reached
"""
_SCORECARD_STAMPS = (
    "SELECT id, definition_stamp, locked_before FROM scorecards WHERE id = ANY($1::uuid[])"
)
_STATUSES = "SELECT id, status FROM measures WHERE scorecard_id = $1"
# A computed status is not an edit: version and updated_at stay as they are.
_SET_STATUS = "UPDATE measures SET status = $2 WHERE id = $1"


async def lock_measures(
    session: AsyncSession, measure_ids: Collection[uuid.UUID], *, foresee: bool = True
) -> list[LockedMeasure]:
    """Lock these measures, the derived measures that use them and their other inputs, and the
    linked measures that depend on them in any scorecard (all in one order, so concurrent
    writers cannot deadlock) for a write: writers of one measure serialise, which keeps its
    status and event chain consistent. Unknown ids are left out.

    The others come from this process's cached definitions (`foresee`), to save a round trip;
    if a definition changed meanwhile, `refresh_statuses` locks the dependents the guess
    missed. Callers that already hold a measure's lock (definition edits) pass
    `foresee=False`: rows taken after it would break the order."""
    requested = set(measure_ids)
    wanted = set(requested)
    for definition in _caches(session).definitions.of_measures(wanted) if foresee else ():
        wanted |= _write_set(definition, wanted)
    connection = await driver_connection(session)
    rows = await connection.fetch(_LOCK, list(wanted))
    stamps = {row["scorecard_id"]: (row["definition_stamp"], row["locked_before"]) for row in rows}
    if any(row["waited"] for row in rows):  # for a writer: definitions may have changed too
        for scorecard in await connection.fetch(_SCORECARD_STAMPS, list(stamps)):
            stamps[scorecard["id"]] = (scorecard["definition_stamp"], scorecard["locked_before"])
    return [
        LockedMeasure(
            id=row["id"],
            scorecard_id=row["scorecard_id"],
            key=row["key"],
            derived=row["derived"],
            linked=row["linked"],
            status=row["status"],
            definition_stamp=stamps[row["scorecard_id"]][0],
            locked_before=stamps[row["scorecard_id"]][1],
            previous_data_stamp=row["previous_data_stamp"],
            data_stamp=row["data_stamp"],
            # A linked measure reached from them is re-evaluated as if asked for.
            requested=row["id"] in requested or row["reached"],
        )
        for row in rows
    ]


async def refresh_statuses(
    session: AsyncSession,
    locked: Collection[LockedMeasure],
    now: datetime | None = None,
    *,
    added: Sequence[Added] | None = None,
) -> dict[uuid.UUID, str]:
    """Re-evaluate the measures the caller has locked (`lock_measures`) and every derived
    measure that uses them at `now`; store each status and record an event for each change.
    Dependents that `lock_measures` did not foresee are locked here, after the rest (as every
    writer does). `added`: every reading the transaction wrote since the lock, when that is all
    it changed (so window statistics can be carried forward). Runs in the caller's
    transaction. Returns the new status of each measure whose status changed, so that a caller
    holding a loaded measure (e.g. the one a PATCH returns) can keep it in step."""
    now = now or datetime.now(UTC)
    stored = {measure.id: measure.status for measure in locked}
    by_scorecard: dict[tuple[uuid.UUID, int], set[uuid.UUID]] = {}
    for measure in locked:
        if measure.requested:
            key = (measure.scorecard_id, measure.definition_stamp)
            by_scorecard.setdefault(key, set()).add(measure.id)
    mine = {measure.id: measure for measure in locked}
    changed: dict[uuid.UUID, str] = {}
    definitions = _caches(session).definitions
    for (scorecard_id, stamp), requested in by_scorecard.items():
        connection = await driver_connection(session)
        definition = await load_definition(connection, definitions, scorecard_id, stamp)
        affected = sorted(_with_dependents(definition, requested))
        if unforeseen := [i for i in affected if i not in stored]:
            # Derived measures only, after every input. (Two writers whose cached definitions
            # are both stale may still deadlock here: PostgreSQL aborts one, the client gets a
            # 503 to retry.)
            late = await lock_measures(session, unforeseen, foresee=False)
            stored.update((m.id, m.status) for m in late)
            affected = [i for i in affected if i in stored]  # unless deleted meanwhile
        scores = await _evaluate(session, definition, affected, now, mine, added)
        for measure_id, score in scores.items():
            if score.status.value != stored[measure_id]:
                await _record_crossing(
                    session, definition, measure_id, stored[measure_id], score, now
                )
                changed[measure_id] = score.status.value
    return changed


async def _record_crossing(
    session: AsyncSession,
    definition: ScorecardDefinition,
    measure_id: uuid.UUID,
    previous: str,
    score: MeasureScore,
    now: datetime,
) -> None:
    await (await driver_connection(session)).execute(_SET_STATUS, measure_id, score.status.value)
    measure = next(m for m in definition.measures if m.id == measure_id)
    # The bands in effect for the period scored (a target schedule may set its own).
    thresholds = thresholds_in_effect(definition, measure.in_effect(score.period))
    await emit_event(
        session,
        THRESHOLD_CROSSED,
        {
            "scorecard_id": str(definition.id),
            "measure_id": str(measure_id),
            "measure_key": measure.key,
            "previous_status": previous,
            "status": score.status.value,
            "value": score.value,
            "score": score.score,
            "thresholds": {"green": thresholds.green, "amber": thresholds.amber},
            "as_of": now.astimezone(UTC),  # written "…Z", as every timestamp
        },
        scorecard_id=definition.id,
    )
    log.info(
        "threshold_crossed",
        measure_id=str(measure_id),
        previous_status=previous,
        status=score.status.value,
    )


async def sweep_scorecard(
    session: AsyncSession, scorecard_id: uuid.UUID, now: datetime | None = None
) -> int:
    """Re-evaluate a whole scorecard at `now`; lock and refresh only the measures whose status
    moved. Skips the scorecard when another worker is sweeping it. Commits; returns the number
    of measures re-checked under lock."""
    now = now or datetime.now(UTC)
    got_lock = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:ns, hashtext(:id))"),
        {"ns": _SWEEP_LOCK, "id": str(scorecard_id)},
    )
    if not got_lock:
        return 0
    connection = await driver_connection(session)
    definition = await load_definition(connection, _caches(session).definitions, scorecard_id)
    stored = dict(await connection.fetch(_STATUSES, scorecard_id))
    scores = await _evaluate(session, definition, stored, now, locked={}, added=None)
    moved = [i for i, status in stored.items() if scores[i].status.value != status]
    if moved:
        await refresh_statuses(session, await lock_measures(session, moved), now)
    await session.commit()
    return len(moved)
