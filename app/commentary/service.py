"""Commentary operations. Each public function that writes is one unit of work: it commits.

A write locks the measure row by moving its data stamp (migration 0004) in the same statement:
writers of one measure's commentary serialise, and every score cached for the measure's
scorecard goes stale at commit, since commentary is part of the score body. The data stamp, not
the definition stamp: the scorecard's definition is unchanged, so no process has to reload and
re-parse it; only the scorecard's sum of data stamps moves, exactly as a reading write moves it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.log import Action, diff, record
from app.commentary.models import Commentary
from app.commentary.schemas import CommentaryWrite
from app.core.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from app.core.http import check_if_match
from app.core.jsonutil import rfc3339
from app.core.pagination import paginate
from app.scoring import Cadence, Period, period_containing

_LOCK = text("""
UPDATE measures m SET data_stamp = nextval('data_stamps')
FROM scorecards s
WHERE m.id = :id AND s.id = m.scorecard_id
RETURNING m.scorecard_id, m.cadence, s.timezone
""")
_READ = text("""
SELECT m.scorecard_id, m.cadence, s.timezone
FROM measures m JOIN scorecards s ON s.id = m.scorecard_id
WHERE m.id = :id
""")


async def _measure_period(
    session: AsyncSession, measure_id: uuid.UUID, period_start: datetime, *, lock: bool
) -> tuple[uuid.UUID, Period]:
    """The measure's scorecard and the period that starts at `period_start` (404 for no such
    measure, 422 when no period of the measure's cadence starts then in its scorecard's zone)."""
    row = (await session.execute(_LOCK if lock else _READ, {"id": measure_id})).one_or_none()
    if row is None:
        raise NotFound(f"measure {measure_id} not found")
    cadence, zone = Cadence(row.cadence), ZoneInfo(row.timezone)
    period = period_containing(period_start, cadence, zone)
    if period.start != period_start:
        raise ValidationFailed.at(
            ["path", "period_start"],
            f"not the start of one of this measure's {cadence} periods in {zone.key}; "
            f"the period containing it starts at {rfc3339(period.start)}",
        )
    return row.scorecard_id, period


async def _stored(
    session: AsyncSession, measure_id: uuid.UUID, period_start: datetime
) -> Commentary | None:
    return await session.scalar(
        select(Commentary)
        .where(Commentary.measure_id == measure_id, Commentary.period_start == period_start)
        .execution_options(populate_existing=True)
    )


def _fields(commentary: Commentary) -> dict[str, Any]:
    """As audit entries show it: the period it is about, and the text."""
    return {
        "period_start": commentary.period_start,
        "analysis": commentary.analysis,
        "actions": commentary.actions,
    }


async def put_commentary(
    session: AsyncSession,
    measure_id: uuid.UUID,
    period_start: datetime,
    body: CommentaryWrite,
    *,
    author: str,
    if_match: str | None,
) -> tuple[Commentary, bool]:
    """Create or replace the period's commentary: (it, True when created)."""
    scorecard_id, period = await _measure_period(session, measure_id, period_start, lock=True)
    commentary = await _stored(session, measure_id, period.start)
    if commentary is None:
        if if_match is not None:
            raise PreconditionFailed("this period has no commentary yet: there is no version")
        commentary = Commentary(
            measure_id=measure_id,
            period_start=period.start,
            period_end=period.end,
            analysis=body.analysis,
            actions=body.actions,
            author=author,
        )
        session.add(commentary)
        await session.flush()
        action, changes = Action.commentary_created, diff({}, _fields(commentary))
    else:
        if commentary.period_end != period.end:
            # Written before the measure's cadence (or its scorecard's zone) changed: another
            # period that starts at the same instant.
            raise Conflict(
                "the commentary stored at this start is for the period "
                f"{rfc3339(commentary.period_start)} to {rfc3339(commentary.period_end)}, "
                "cut before the measure's cadence or its scorecard's time zone changed; "
                "delete it first to write this period's"
            )
        check_if_match(if_match, commentary.version)
        before = _fields(commentary)
        commentary.analysis, commentary.actions = body.analysis, body.actions
        commentary.author = author
        commentary.version += 1
        await session.flush()
        # The period is named even when only the text changed.
        changes = {"period_start": [period.start, period.start]}
        changes |= diff(before, _fields(commentary)) or {}
        action = Action.commentary_updated
    await record(
        session, action, resource_id=measure_id, scorecard_id=scorecard_id, changes=changes
    )
    await session.commit()
    return commentary, action is Action.commentary_created


async def get_commentary(
    session: AsyncSession, measure_id: uuid.UUID, period_start: datetime
) -> Commentary:
    _, period = await _measure_period(session, measure_id, period_start, lock=False)
    commentary = await _stored(session, measure_id, period.start)
    if commentary is None:
        raise NotFound(f"no commentary for measure {measure_id} in the period starting then")
    return commentary


async def delete_commentary(
    session: AsyncSession, measure_id: uuid.UUID, period_start: datetime, if_match: str | None
) -> None:
    scorecard_id, period = await _measure_period(session, measure_id, period_start, lock=True)
    commentary = await _stored(session, measure_id, period.start)
    if commentary is None:
        raise NotFound(f"no commentary for measure {measure_id} in the period starting then")
    check_if_match(if_match, commentary.version)
    before = _fields(commentary)
    await session.delete(commentary)
    await record(
        session,
        Action.commentary_deleted,
        resource_id=measure_id,
        scorecard_id=scorecard_id,
        changes=diff(before, {}),
    )
    await session.commit()


async def list_commentary(
    session: AsyncSession,
    measure_id: uuid.UUID,
    *,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Commentary], str | None]:
    """A page of the measure's commentary with period start in [start, end), oldest first."""
    if (await session.execute(_READ, {"id": measure_id})).one_or_none() is None:
        raise NotFound(f"measure {measure_id} not found")
    query = select(Commentary).where(Commentary.measure_id == measure_id)
    if start is not None:
        query = query.where(Commentary.period_start >= start)
    if end is not None:
        query = query.where(Commentary.period_start < end)
    return await paginate(
        session, query, keys=[Commentary.period_start], limit=limit, cursor=cursor
    )
