"""The LRS: store statements (idempotent by id) and turn each new one into readings of the
measures whose `xapi` mapping matches it, in the same transaction, through `record_readings`."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.log import Action, counts, record
from app.core.errors import BadRequest, Conflict, NotFound
from app.core.jsonutil import dumps
from app.core.pagination import paginate
from app.readings.service import NewReading, WriteResult, record_readings
from app.scorecards.models import Measure
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
INSERT INTO xapi_statements (id, verb_id, activity_id, timestamp, stored, statement)
SELECT s.id, s.verb_id, s.activity_id, s.ts, CAST(:stored AS timestamptz), CAST(s.doc AS json)
FROM unnest(CAST(:ids AS uuid[]), CAST(:verbs AS text[]), CAST(:activities AS text[]),
            CAST(:timestamps AS timestamptz[]), CAST(:docs AS text[]))
     AS s(id, verb_id, activity_id, ts, doc)
ON CONFLICT (id) DO NOTHING
RETURNING id
""")


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
    same content is a no-op; with different content → 409; twice in the batch → 400."""
    ids = [s.id for s in statements]
    if len(set(ids)) != len(ids):
        repeated = sorted({str(i) for i in ids if ids.count(i) > 1})
        raise BadRequest(f"statement id(s) {repeated} appear more than once in this batch")
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
                },
            )
        ).all()
    )
    await _check_repeats(session, [s for s in statements if s.id not in inserted])
    new = [s for s in statements if s.id in inserted]
    if new:
        mappings = await mappings_for(session, {s.verb_id for s in new})
        readings = [r for s in new for r in _readings(s, mappings.get(s.verb_id, ()))]
        # A statement observed in a locked period is kept (an LRS keeps what it is sent) but
        # makes no reading.
        result = await record_readings(session, readings, skip_locked=True)
        _refuse_conflicts(result)
        # One entry per request, with counts (a repeat of stored statements changes nothing).
        await record(
            session,
            Action.xapi_statements,
            resource_id=None,
            scorecard_id=result.scorecard_id,
            changes=counts(
                statements=len(new), created=result.created, duplicates=len(result.duplicates)
            ),
        )
    await session.commit()


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


async def get_statement(session: AsyncSession, statement_id: uuid.UUID) -> dict[str, Any]:
    row = await session.get(XapiStatement, statement_id)
    if row is None:
        raise NotFound(f"no statement {statement_id}")
    return _render(row)


async def list_statements(
    session: AsyncSession,
    *,
    verb: str | None,
    activity: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Most recently stored first."""
    query = select(XapiStatement)
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
        .where(XapiStatement.verb_id.in_(mapping.verbs))
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
