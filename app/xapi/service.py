"""The LRS: store statements (idempotent by id) and turn each new one into readings of the
measures whose `xapi` mapping matches it, in the same transaction, through `record_readings`."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.audit.log import Action, counts, record
from app.core.errors import BadRequest, Conflict, NotFound
from app.core.jsonutil import dumps
from app.core.pagination import paginate
from app.readings.rollups import recompute_rollups
from app.readings.service import NewReading, WriteResult, record_readings
from app.scorecards.models import Measure
from app.thresholds.status import lock_measures, refresh_statuses
from app.xapi.models import XapiStatement
from app.xapi.statements import (
    Statement,
    actor_identifier,
    check_statement,
    mapped_value,
    parse_statement_id,
    rendered,
    same_statement,
)

BACKFILL_CHUNK = 5_000

_INSERT = text("""
INSERT INTO xapi_statements (id, verb_id, activity_id, timestamp, stored, statement, voids)
SELECT s.id, s.verb_id, s.activity_id, s.ts, CAST(:stored AS timestamptz), CAST(s.doc AS json),
    s.voids
FROM unnest(CAST(:ids AS uuid[]), CAST(:verbs AS text[]), CAST(:activities AS text[]),
            CAST(:timestamps AS timestamptz[]), CAST(:docs AS text[]), CAST(:voids AS uuid[]))
     AS s(id, verb_id, activity_id, ts, doc, voids)
ON CONFLICT (id) DO NOTHING
RETURNING id
""")

# Voiding and storing meet under one advisory lock: every request that stores statements holds
# it shared (they do not wait for each other), one that stores a voiding statement holds it
# alone. So a voiding statement and the statement it voids are never stored by two
# transactions that cannot see each other, which would leave the voided one's reading behind.
# Taken first, before any row lock, so it cannot take part in a deadlock.
_VOIDING_LOCK = {"ns": 0x5C0E0A91, "key": 0}
_LOCK_SHARED = text("SELECT pg_advisory_xact_lock_shared(:ns, :key)")
_LOCK_ALONE = text("SELECT pg_advisory_xact_lock(:ns, :key)")
_VOIDER = aliased(XapiStatement)


def _is_voided() -> ColumnElement[bool]:
    """A statement is voided while a voiding statement names it, unless it is a voiding
    statement itself (those cannot be voided)."""
    return XapiStatement.voids.is_(None) & (
        select(_VOIDER.id).where(_VOIDER.voids == XapiStatement.id).exists()
    )


# The readings that voided statements made (external_id = statement id), in measures locked.
_VOIDED_READINGS = text("""
SELECT r.id, r.measure_id, r.observed_at FROM readings r
WHERE r.source = 'xapi' AND r.external_id = ANY(CAST(:external_ids AS text[]))
  AND r.measure_id = ANY(CAST(:measure_ids AS uuid[]))
""")
_READING_MEASURES = text("""
SELECT DISTINCT measure_id FROM readings
WHERE source = 'xapi' AND external_id = ANY(CAST(:external_ids AS text[]))
""")
_DELETE_READINGS = text("DELETE FROM readings WHERE id = ANY(CAST(:ids AS uuid[]))")


@dataclass(frozen=True)
class Mapping:
    measure_id: uuid.UUID
    verbs: tuple[str, ...]  # any of them matches
    activity_id_prefix: str | None
    value: str

    @classmethod
    def of(cls, measure_id: uuid.UUID, xapi: dict[str, Any]) -> Mapping:
        """A measure's stored mapping, whose `verb` is one IRI or a list of them."""
        verb = xapi["verb"]
        return cls(
            measure_id=measure_id,
            verbs=(verb,) if isinstance(verb, str) else tuple(verb),
            activity_id_prefix=xapi.get("activity_id_prefix"),
            value=xapi.get("value", "count"),
        )

    def matches(self, activity_id: str | None) -> bool:
        prefix = self.activity_id_prefix
        return prefix is None or (activity_id is not None and activity_id.startswith(prefix))


@dataclass(frozen=True)
class BackfillResult:
    created: int
    duplicates: int
    skipped: int  # matching statements that lack the field the mapping reads, or are locked


async def post_statements(session: AsyncSession, body: Any) -> list[uuid.UUID]:
    """POST: one statement or an array of them (parsed JSON), checked and stored; their ids."""
    stored = datetime.now(UTC)
    if isinstance(body, list):
        statements = [check_statement(raw, stored, f"statement {i}") for i, raw in enumerate(body)]
    else:
        statements = [check_statement(body, stored)]
    await store_statements(session, statements, stored)
    return [statement.id for statement in statements]


async def put_statement(session: AsyncSession, statement_id: str, body: Any) -> None:
    """PUT: one statement (parsed JSON) under `statement_id`, which an id in the statement
    must agree with; checked and stored."""
    target = parse_statement_id(statement_id)
    if (
        isinstance(body, dict)
        and "id" in body
        and parse_statement_id(body["id"], "statement") != target
    ):
        raise BadRequest("the statement's id differs from the statementId parameter")
    stored = datetime.now(UTC)
    statement = check_statement(
        {**body, "id": statement_id} if isinstance(body, dict) else body, stored
    )
    await store_statements(session, [statement], stored)


async def store_statements(
    session: AsyncSession, statements: Sequence[Statement], stored: datetime
) -> None:
    """Store a batch of statements all or nothing, then commit. An id stored before with the
    same content is a no-op; with different content → 409; twice in the batch → 400. A voiding
    statement deletes the readings of the statement it voids (outside locked periods); one
    that would void a voiding statement → 400."""
    ids = [s.id for s in statements]
    if len(set(ids)) != len(ids):
        repeated = sorted({str(i) for i in ids if ids.count(i) > 1})
        raise BadRequest(f"statement id(s) {repeated} appear more than once in this batch")
    voiding = {s.id: s.voids for s in statements if s.voids is not None}
    await session.execute(_LOCK_ALONE if voiding else _LOCK_SHARED, _VOIDING_LOCK)
    await _refuse_voiding_voids(session, statements, voiding)
    inserted = set(
        (
            await session.scalars(
                _INSERT,
                {
                    "stored": stored,
                    "ids": ids,
                    "verbs": [s.verb_id for s in statements],
                    "activities": [s.activity_id for s in statements],
                    "timestamps": [s.timestamp for s in statements],
                    "docs": [dumps(s.received).decode() for s in statements],
                    "voids": [s.voids for s in statements],
                },
            )
        ).all()
    )
    await _check_repeats(session, [s for s in statements if s.id not in inserted])
    new = [s for s in statements if s.id in inserted]
    if new:
        # Statements voided before they arrived (by a voiding statement stored earlier or in
        # this batch) are stored as voided and make no reading; voiding statements make none.
        voided = await _voided_among(session, [s.id for s in new if s.voids is None])
        readable = [s for s in new if s.voids is None and s.id not in voided]
        mappings = await mappings_for(session, {s.verb_id for s in readable})
        readings = [r for s in readable for r in _readings(s, mappings.get(s.verb_id, ()))]
        targets = {s.voids for s in new if s.voids is not None}
        void_measures = await _measures_of(session, targets) if targets else set()
        if void_measures:
            # Every measure this request writes, locked in one go (in the one order every
            # writer uses), before the readings are written and the voided ones deleted.
            await lock_measures(session, void_measures | {r.measure_id for r in readings})
        # A statement observed in a locked period is kept (an LRS keeps what it is sent) but
        # makes no reading.
        result = await record_readings(session, readings, skip_locked=True)
        _refuse_conflicts(result)
        deleted, scorecards = await _delete_voided_readings(session, targets, void_measures)
        scorecards |= result.scorecard_ids
        # One entry per request, with counts (a repeat of stored statements changes nothing).
        await record(
            session,
            Action.xapi_statements,
            resource_id=None,
            scorecard_id=next(iter(scorecards)) if len(scorecards) == 1 else None,
            changes=counts(
                statements=len(new),
                created=result.created,
                duplicates=len(result.duplicates),
                **({"voided": len(targets), "deleted": deleted} if targets else {}),
            ),
        )
    await session.commit()


async def _refuse_voiding_voids(
    session: AsyncSession, statements: Sequence[Statement], voiding: dict[uuid.UUID, uuid.UUID]
) -> None:
    """A voiding statement cannot be voided: one aimed at a voiding statement (stored, or in
    this batch) → 400. Checked under the voiding lock, so none can arrive meanwhile."""
    if not voiding:
        return
    targets = set(voiding.values())
    stored = set(
        (
            await session.scalars(
                select(XapiStatement.id).where(
                    XapiStatement.id.in_(targets), XapiStatement.voids.is_not(None)
                )
            )
        ).all()
    )
    # A repeat of a stored voiding statement is no new voiding: only count the others.
    bad = sorted(
        str(s.id)
        for s in statements
        if s.voids is not None and (s.voids in voiding or s.voids in stored)
    )
    if bad:
        raise BadRequest(
            f"statement(s) {bad} would void a voiding statement, and those cannot be voided"
        )


async def _voided_among(session: AsyncSession, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    rows = await session.scalars(
        select(XapiStatement.voids).where(XapiStatement.voids.in_(ids)).distinct()
    )
    return {i for i in rows if i is not None}


async def _measures_of(session: AsyncSession, targets: set[uuid.UUID]) -> set[uuid.UUID]:
    """The measures that may hold readings of these statements: those holding one now, and
    those whose mapping reads the statements' verbs (a backfill of one may be writing it, and
    must finish first: it holds the measure's lock)."""
    external_ids = [str(t) for t in targets]
    holding = set((await session.scalars(_READING_MEASURES, {"external_ids": external_ids})).all())
    verbs = set(
        (
            await session.scalars(
                select(XapiStatement.verb_id).where(
                    XapiStatement.id.in_(targets), XapiStatement.voids.is_(None)
                )
            )
        ).all()
    )
    mapped = {m.measure_id for ms in (await mappings_for(session, verbs)).values() for m in ms}
    return holding | mapped


async def _delete_voided_readings(
    session: AsyncSession, targets: set[uuid.UUID], measure_ids: set[uuid.UUID]
) -> tuple[int, set[uuid.UUID]]:
    """Delete the readings of voided statements, except those observed before their
    scorecard's `locked_before` (they stay); crossings are recorded as for any delete. The
    number deleted, and the scorecards they were in."""
    if not measure_ids:
        return 0, set()
    # Locked again (already held): the data stamps move past the ones the readings just
    # written left, so the statistics remembered for them are not reused (`increments`).
    measures = await lock_measures(session, measure_ids)
    locked_before = {m.id: m.locked_before for m in measures}
    rows = (
        await session.execute(
            _VOIDED_READINGS,
            {"external_ids": [str(t) for t in targets], "measure_ids": [m.id for m in measures]},
        )
    ).all()
    doomed = [
        row
        for row in rows
        if (bound := locked_before.get(row.measure_id)) is None or row.observed_at >= bound
    ]
    if not doomed:
        return 0, set()
    await session.execute(_DELETE_READINGS, {"ids": [row.id for row in doomed]})
    await recompute_rollups(session, [(row.measure_id, row.observed_at) for row in doomed])
    touched = {row.measure_id for row in doomed}
    await refresh_statuses(session, measures)
    return len(doomed), {m.scorecard_id for m in measures if m.id in touched}


async def _check_repeats(session: AsyncSession, repeats: Sequence[Statement]) -> None:
    if not repeats:
        return
    rows = await session.execute(
        select(XapiStatement.id, XapiStatement.statement).where(
            XapiStatement.id.in_([s.id for s in repeats])
        )
    )
    stored: dict[uuid.UUID, dict[str, Any]] = {row.id: row.statement for row in rows}
    if differing := [str(s.id) for s in repeats if not same_statement(s.received, stored[s.id])]:
        raise Conflict(f"statement(s) {differing} are already stored with different content")


async def mappings_for(session: AsyncSession, verbs: set[str]) -> dict[str, list[Mapping]]:
    """The mappings of measures that take readings, by verb, in one query."""
    if not verbs:
        return {}
    rows = await session.execute(
        select(Measure.id, Measure.xapi).where(
            Measure.xapi.is_not(None),
            Measure.formula.is_(None),
            # `?|` matches a verb given as one string as well as one in a list of them.
            Measure.xapi["verb"].has_any(cast(sorted(verbs), ARRAY(Text))),
        )
    )
    by_verb: dict[str, list[Mapping]] = defaultdict(list)
    for measure_id, xapi in rows:
        mapping = Mapping.of(measure_id, xapi)
        for verb in mapping.verbs:
            if verb in verbs:
                by_verb[verb].append(mapping)
    return by_verb


def _readings(statement: Statement, mappings: Sequence[Mapping]) -> list[NewReading]:
    readings = []
    subject = actor_identifier(statement.received)
    for mapping in mappings:
        if not mapping.matches(statement.activity_id):
            continue
        value = mapped_value(statement.received, mapping.value)
        if value is not None:
            readings.append(
                NewReading(
                    measure_id=mapping.measure_id,
                    value=value,
                    observed_at=statement.timestamp,
                    source="xapi",
                    external_id=str(statement.id),
                    subject=subject,
                )
            )
    return readings


def _refuse_conflicts(result: WriteResult) -> None:
    if result.conflicts:
        clashes = sorted({result.written[i].external_id or "" for i in result.conflicts})
        raise Conflict(
            f"readings with external_id(s) {clashes} (statement ids) already exist "
            "with different content"
        )


async def get_statement(
    session: AsyncSession, statement_id: uuid.UUID, *, voided: bool = False
) -> dict[str, Any]:
    """The statement with this id: only if not voided, or (`voided`) only if voided."""
    row = (
        await session.execute(
            select(XapiStatement, _is_voided().label("voided")).where(
                XapiStatement.id == statement_id
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no statement {statement_id}")
    if row.voided != voided:
        raise NotFound(
            f"statement {statement_id} is voided: ask for it as voidedStatementId"
            if row.voided
            else f"statement {statement_id} is not voided: ask for it as statementId"
        )
    return _render(row.XapiStatement)


async def list_statements(
    session: AsyncSession,
    *,
    verb: str | None,
    activity: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Most recently stored first, voided statements left out."""
    query = select(XapiStatement).where(~_is_voided())
    if verb is not None:
        query = query.where(XapiStatement.verb_id == verb)
    if activity is not None:
        query = query.where(XapiStatement.activity_id == activity)
    rows, next_cursor = await paginate(
        session,
        query,
        keys=[XapiStatement.stored, XapiStatement.id],
        descending=True,
        limit=limit,
        cursor=cursor,
    )
    return [_render(row) for row in rows], next_cursor


def _render(row: XapiStatement) -> dict[str, Any]:
    return rendered(row.statement, row.id, row.timestamp, row.stored)


async def backfill(session: AsyncSession, measure_id: uuid.UUID) -> BackfillResult:
    """Turn the stored statements that match a measure's mapping into readings (idempotent
    through external_id = statement id), all in one transaction; commits."""
    measure = await session.get(Measure, measure_id)
    if measure is None:
        raise NotFound(f"measure {measure_id} not found")
    if not measure.xapi:
        raise Conflict(f"measure {measure.key!r} has no xapi mapping to backfill from")
    mapping = Mapping.of(measure.id, measure.xapi)
    # The measure's lock first: a voiding statement that arrives meanwhile waits for it, and
    # then deletes what this backfill wrote (app/xapi/service.py, `_measures_of`).
    await lock_measures(session, [measure.id])
    created = duplicates = skipped = 0
    after: uuid.UUID | None = None
    while chunk := await _matching_statements(session, mapping, after):
        after = chunk[-1].id
        readings = [r for s in chunk for r in _readings(s, [mapping])]
        result = await record_readings(session, readings, skip_locked=True)
        _refuse_conflicts(result)
        # Statements the mapping cannot read, and those observed in a locked period.
        skipped += len(chunk) - len(readings) + len(result.locked)
        created, duplicates = created + result.created, duplicates + len(result.duplicates)
    await record(
        session,
        Action.readings_backfill,
        resource_id=measure_id,
        scorecard_id=measure.scorecard_id,
        changes=counts(created=created, duplicates=duplicates, skipped=skipped),
    )
    await session.commit()
    return BackfillResult(created=created, duplicates=duplicates, skipped=skipped)


async def _matching_statements(
    session: AsyncSession, mapping: Mapping, after: uuid.UUID | None
) -> list[Statement]:
    query = (
        select(
            XapiStatement.id,
            XapiStatement.verb_id,
            XapiStatement.activity_id,
            XapiStatement.timestamp,
            XapiStatement.statement,
        )
        .where(
            XapiStatement.verb_id.in_(mapping.verbs),
            XapiStatement.voids.is_(None),
            ~_is_voided(),
        )
        .order_by(XapiStatement.id)
        .limit(BACKFILL_CHUNK)
    )
    if mapping.activity_id_prefix is not None:
        query = query.where(
            XapiStatement.activity_id.startswith(mapping.activity_id_prefix, autoescape=True)
        )
    if after is not None:
        query = query.where(XapiStatement.id > after)
    return [
        Statement(
            id=row.id,
            verb_id=row.verb_id,
            activity_id=row.activity_id,
            timestamp=row.timestamp,
            received=row.statement,
        )
        for row in await session.execute(query)
    ]
