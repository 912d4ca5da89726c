"""The one write path for readings: single posts, batches, CSV and xAPI all come through
`write_readings`, so locking, idempotency and status re-evaluation happen in one place."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asyncpg.exceptions import CheckViolationError, UniqueViolationError
from asyncpg.pgproto.pgproto import UUID as AsyncpgUUID
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils import uuid7

from app.audit.log import Action, counts, diff, fetch_recorded, record
from app.core.database import driver_connection
from app.core.errors import Conflict, NotFound
from app.core.jsonutil import rfc3339
from app.ops.metrics import READINGS_INGESTED
from app.readings import partitions
from app.readings.models import Reading
from app.readings.queries import ONE_READING
from app.readings.rollups import add_to_rollups, recompute_rollups
from app.thresholds.increments import Added
from app.thresholds.status import LockedMeasure, lock_measures, refresh_statuses


@dataclass(slots=True)  # not frozen: that makes __init__ ~2x slower, at thousands per batch
class NewReading:
    measure_id: uuid.UUID
    value: float
    observed_at: datetime
    source: str | None = None
    external_id: str | None = None
    note: str | None = None
    subject: str | None = None


@dataclass
class WriteResult:
    # The stored reading's id for each input, whether just created or found by external_id.
    ids: list[uuid.UUID] = field(default_factory=list)
    created: int = 0
    # Indexes into the input: retries of stored readings (same content) and clashes (different).
    duplicates: list[int] = field(default_factory=list)
    conflicts: list[int] = field(default_factory=list)
    # Indexes of inputs observed before their scorecard's `locked_before`: refused (nothing
    # written) or, with `skip_locked`, left out (then the other indexes are of `written`).
    locked: dict[int, datetime] = field(default_factory=dict)  # index → its locked_before
    written: Sequence[NewReading] = ()
    # The scorecards of the measures written to (for the audit entry).
    scorecard_ids: set[uuid.UUID] = field(default_factory=set)

    @property
    def scorecard_id(self) -> uuid.UUID | None:
        """The one scorecard written to, or None when several were."""
        return next(iter(self.scorecard_ids)) if len(self.scorecard_ids) == 1 else None


_COPY_COLUMNS = (
    "id",
    "measure_id",
    "value",
    "observed_at",
    "source",
    "external_id",
    "note",
    "subject",
)

# Through the key table (migration 0014): its primary key finds the reading, and the reading's
# observed_at lets the lookup go straight to its partition.
_KEY_COLUMNS = ("measure_id", "external_id", "reading_id", "observed_at")

_EXISTING = text("""
SELECT k.ord, r.id, r.value, r.observed_at, r.source, r.note, r.subject
FROM unnest(CAST(:measure_ids AS uuid[]), CAST(:external_ids AS text[]))
     WITH ORDINALITY AS k(measure_id, external_id, ord)
JOIN reading_keys rk ON rk.measure_id = k.measure_id AND rk.external_id = k.external_id
JOIN readings r ON r.id = rk.reading_id AND r.observed_at = rk.observed_at
""")


async def record_readings(
    session: AsyncSession, readings: Sequence[NewReading], *, skip_locked: bool = False
) -> WriteResult:
    """The write path for every kind of ingestion: lock the measures, insert, re-evaluate their
    statuses (crossing detection). Unknown measures → 404, derived ones → 409. Readings
    observed before their scorecard's `locked_before` are listed in `locked`: then nothing is
    written, or, with `skip_locked` (an LRS keeps what it is sent), the rest is. Does not
    commit: the caller owns the transaction and decides, from `conflicts` and `locked`, to
    commit or roll back."""
    measure_ids = {r.measure_id for r in readings}
    await partitions.ensure_for_readings(session, (r.observed_at for r in readings))
    measures = await lock_measures(session, measure_ids)
    if missing := measure_ids - {m.id for m in measures}:
        raise NotFound(f"measure(s) {sorted(map(str, missing))} not found")
    refuse_derived([m for m in measures if m.id in measure_ids])
    # Checked under the measures' locks: see LockedMeasure.locked_before.
    if locked := locked_readings(measures, readings):
        if not skip_locked:
            return WriteResult(locked=locked)
        readings = [r for i, r in enumerate(readings) if i not in locked]
    result = await write_readings(session, readings)
    result.locked, result.written = locked, readings
    result.scorecard_ids = {m.scorecard_id for m in measures if m.id in measure_ids}
    if result.created and not result.conflicts:
        await refresh_statuses(session, measures, added=_added(readings, result))
        # Counted before commit: a rare rollback after this point over-counts, never hides.
        READINGS_INGESTED.inc(result.created)
    return result


# Up to this many readings, window statistics are carried forward row by row; a bigger batch
# is cheaper to re-aggregate in the database (one query, however many rows).
_CARRY_FORWARD_MAX = 100


def _added(readings: Sequence[NewReading], result: WriteResult) -> list[Added] | None:
    """The rows a successful call wrote (not the retries), or None for a big batch."""
    if len(readings) > _CARRY_FORWARD_MAX:
        return None
    retries = set(result.duplicates)
    return [
        Added(result.ids[i], reading.measure_id, reading.value, reading.observed_at)
        for i, reading in enumerate(readings)
        if i not in retries
    ]


async def write_readings(session: AsyncSession, readings: Sequence[NewReading]) -> WriteResult:
    """COPY the readings in, classifying external_id repeats (of a stored reading, or of an
    earlier item of the same call) as duplicates or conflicts. No ON CONFLICT needed: every
    writer holds the measures' locks (`lock_measures`), so nobody else inserts those keys
    meanwhile. Optimistic: the common all-new call skips looking for stored repeats; when the
    key table's primary key says there are some (its COPY follows the readings'), the
    savepoint undoes the COPY and we look first. A reading in a month that has no partition
    yet fails the COPY too: its partition is created, and the call tried again."""
    try:
        return await _write_once(session, readings)
    except CheckViolationError as exc:
        if not partitions.is_missing_partition(exc):
            raise
    # Only when a partition was removed behind this process's back (see `KnownPartitions`).
    await partitions.create_in_transaction(session, (r.observed_at for r in readings))
    return await _write_once(session, readings)


async def _write_once(session: AsyncSession, readings: Sequence[NewReading]) -> WriteResult:
    try:
        async with session.begin_nested():
            return await _classify_and_copy(session, readings, stored={})
    except UniqueViolationError:
        stored = await _stored_repeats(session, readings)
        # A savepoint again: a missing partition fails this COPY too (`write_readings`).
        async with session.begin_nested():
            return await _classify_and_copy(session, readings, stored)


async def _classify_and_copy(
    session: AsyncSession, readings: Sequence[NewReading], stored: dict[int, Any]
) -> WriteResult:
    ids = _new_ids(len(readings))
    result = WriteResult(ids=ids)
    owner: dict[tuple[uuid.UUID, str], int] = {}  # (measure, external_id) → first item with it
    fresh: list[int] = []
    for i, reading in enumerate(readings):
        if reading.external_id is None:
            fresh.append(i)
            continue
        if (row := stored.get(i)) is not None:
            ids[i], same = row.id, _content(row) == _content(reading)
        elif (first := owner.get((reading.measure_id, reading.external_id))) is not None:
            ids[i], same = ids[first], _content(readings[first]) == _content(reading)
        else:
            owner[(reading.measure_id, reading.external_id)] = i
            fresh.append(i)
            continue
        (result.duplicates if same else result.conflicts).append(i)
    await _copy(
        session,
        [_row(ids[i], readings[i]) for i in fresh],
        [
            (reading.measure_id, reading.external_id, ids[i], reading.observed_at)
            for i in fresh
            if (reading := readings[i]).external_id is not None
        ],
    )
    await add_to_rollups(session, [readings[i] for i in fresh])
    result.created = len(fresh)
    return result


def _new_ids(count: int) -> list[uuid.UUID]:
    """UUIDv7s, as `new_id()` makes, but as asyncpg's C-built uuid.UUID: ~4x cheaper per id,
    which counts at thousands of readings per call."""
    return [AsyncpgUUID(uuid7().bytes) for _ in range(count)]


async def _stored_repeats(session: AsyncSession, readings: Sequence[NewReading]) -> dict[int, Any]:
    """Stored readings that share (measure, external_id) with an input, by input index."""
    keyed = [i for i, r in enumerate(readings) if r.external_id is not None]
    if not keyed:
        return {}
    rows = await session.execute(
        _EXISTING,
        {
            "measure_ids": [readings[i].measure_id for i in keyed],
            "external_ids": [readings[i].external_id for i in keyed],
        },
    )
    return {keyed[row.ord - 1]: row for row in rows}


def _content(reading: Any) -> tuple[Any, ...]:
    return (reading.value, reading.observed_at, reading.source, reading.note, reading.subject)


def _row(reading_id: uuid.UUID, reading: NewReading) -> tuple[Any, ...]:
    return (
        reading_id,
        reading.measure_id,
        reading.value,
        reading.observed_at,
        reading.source,
        reading.external_id,
        reading.note,
        reading.subject,
    )


async def _copy(
    session: AsyncSession, rows: list[tuple[Any, ...]], keys: list[tuple[Any, ...]]
) -> None:
    """Binary COPY into readings, and of the external_ids' keys into `reading_keys` (migration
    0014: a repeat violates its primary key), inside the session's transaction. Not a trigger:
    PostgreSQL stops batching a COPY into a partitioned table that has a statement-level insert
    trigger with a transition table (measured: 0.4x the rows/s of the table before)."""
    if not rows:
        return
    driver = await driver_connection(session)
    await driver.copy_records_to_table("readings", records=rows, columns=_COPY_COLUMNS)
    if keys:
        await driver.copy_records_to_table("reading_keys", records=keys, columns=_KEY_COLUMNS)


async def create_reading(
    session: AsyncSession, reading: NewReading
) -> tuple[Mapping[str, Any], bool]:
    """One reading: (the stored reading, True) when created and committed; (the stored one,
    False) for a retry with the same external_id and content. Different content → 409. The
    row is read before the commit: once committed, no later failure may answer the write as
    failed. A new reading's audit entry is written by the statement that reads it back."""
    result = await record_readings(session, [reading])
    if result.locked:
        raise locked_period(reading.observed_at, result.locked[0])
    if result.conflicts:
        raise Conflict(
            f"reading {result.ids[0]} already has external_id "
            f"{reading.external_id!r} with different content"
        )
    if not result.created:
        driver = await driver_connection(session)
        return await driver.fetchrow(ONE_READING, result.ids[0]), False
    stored = await fetch_recorded(
        session,
        ONE_READING,
        [result.ids[0]],
        Action.reading_created,
        resource_id=result.ids[0],
        scorecard_id=result.scorecard_id,
        changes=diff({}, _fields(reading)),
    )
    await session.commit()
    return stored, True


async def get_reading(session: AsyncSession, reading_id: uuid.UUID) -> Reading:
    reading = await session.get(Reading, reading_id)
    if reading is None:
        raise NotFound(f"reading {reading_id} not found")
    return reading


async def delete_reading(session: AsyncSession, reading_id: uuid.UUID) -> None:
    reading = await get_reading(session, reading_id)
    measures = await lock_measures(session, [reading.measure_id])
    mine = next((m for m in measures if m.id == reading.measure_id), None)
    if mine is None:  # the measure, and with it the reading, was deleted meanwhile
        raise NotFound(f"reading {reading_id} not found")
    if mine.locked_before is not None and reading.observed_at < mine.locked_before:
        raise locked_period(reading.observed_at, mine.locked_before)
    # With its observed_at, the DELETE reaches only the reading's partition.
    await session.execute(
        delete(Reading).where(Reading.id == reading_id, Reading.observed_at == reading.observed_at)
    )
    await recompute_rollups(session, [(reading.measure_id, reading.observed_at)])
    await refresh_statuses(session, measures)
    await record(
        session,
        Action.reading_deleted,
        resource_id=reading_id,
        scorecard_id=mine.scorecard_id,
        changes=diff(_fields(reading), {}),
    )
    await session.commit()


def locked_readings(
    measures: Sequence[LockedMeasure], readings: Sequence[NewReading]
) -> dict[int, datetime]:
    """The readings observed before their scorecard's `locked_before`: index → that bound."""
    locked_before = {m.id: m.locked_before for m in measures if m.locked_before is not None}
    if not locked_before:
        return {}
    return {
        i: bound
        for i, reading in enumerate(readings)
        if (bound := locked_before.get(reading.measure_id)) is not None
        and reading.observed_at < bound
    }


def locked_period(observed_at: datetime, locked_before: datetime) -> Conflict:
    return Conflict(
        f"the period is locked: readings observed before {rfc3339(locked_before)} can no longer be "
        f"created or deleted, and this one is observed at {rfc3339(observed_at)}"
    )


def _fields(reading: NewReading | Reading) -> dict[str, Any]:
    """A reading as its audit entry shows it."""
    return {
        "measure_id": reading.measure_id,
        "value": reading.value,
        "observed_at": reading.observed_at,
        "source": reading.source,
        "external_id": reading.external_id,
        "note": reading.note,
        "subject": reading.subject,
    }


async def record_ingest(session: AsyncSession, action: Action, result: WriteResult) -> None:
    """The one audit entry of a request that wrote many readings: counts, not readings."""
    await record(
        session,
        action,
        resource_id=None,
        scorecard_id=result.scorecard_id,
        changes=counts(created=result.created, duplicates=len(result.duplicates)),
    )


def refuse_derived(measures: Sequence[LockedMeasure]) -> None:
    derived = [m.key for m in measures if m.derived]
    if derived:
        raise Conflict(
            f"derived measures {derived} are computed from a formula and take no readings"
        )
    linked = [m.key for m in measures if m.linked]
    if linked:
        raise Conflict(
            f"linked measures {linked} take their values from their source and take no readings"
        )
