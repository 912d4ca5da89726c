"""Share links: create, list, revoke, and find the scorecard a token opens. Each public function
that writes is one unit of work: it commits.

A token carries 256 bits of entropy, so, like an API key, it is stored only as a SHA-256 (a
slow hash buys nothing for random tokens and would cost every dashboard request). Nothing
caches what a token opens: a revoked link stops working at once, in every worker."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

import asyncpg
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.log import Action, record
from app.core.errors import NotFound
from app.core.pagination import paginate
from app.dashboard.models import ShareLink
from app.scorecards.models import Scorecard

# What `secrets.token_urlsafe(32)` makes: 43 URL-safe characters. Anything else in the place of
# a token is refused before it reaches the database.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def share_path(token: str) -> str:
    return f"/s/{token}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_share_link(
    session: AsyncSession, scorecard_id: uuid.UUID
) -> tuple[ShareLink, str]:
    """The stored link and its token (shown once, never stored)."""
    # The scorecard row is held (FOR KEY SHARE) until commit: deleted meanwhile, it would make
    # the insert fail on its foreign key; this way the delete waits, then takes the link along.
    locked = (
        select(Scorecard.id).where(Scorecard.id == scorecard_id).with_for_update(key_share=True)
    )
    if await session.scalar(locked) is None:
        raise NotFound(f"scorecard {scorecard_id} not found")
    token = secrets.token_urlsafe(32)
    link = ShareLink(scorecard_id=scorecard_id, token_hash=hash_token(token))
    session.add(link)
    await session.flush()
    await record(
        session,
        Action.share_link_created,
        resource_id=link.id,
        scorecard_id=scorecard_id,
        changes={"scorecard_id": [None, scorecard_id]},
    )
    await session.commit()
    return link, token


async def list_share_links(
    session: AsyncSession, scorecard_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[ShareLink], str | None]:
    if await session.get(Scorecard, scorecard_id) is None:
        raise NotFound(f"scorecard {scorecard_id} not found")
    query = select(ShareLink).where(ShareLink.scorecard_id == scorecard_id)
    return await paginate(session, query, keys=[ShareLink.id], limit=limit, cursor=cursor)


async def revoke_share_link(session: AsyncSession, link_id: uuid.UUID) -> None:
    scorecard_id = (
        await session.execute(
            delete(ShareLink).where(ShareLink.id == link_id).returning(ShareLink.scorecard_id)
        )
    ).scalar_one_or_none()
    if scorecard_id is None:
        raise NotFound(f"share link {link_id} not found")
    await record(
        session,
        Action.share_link_deleted,
        resource_id=link_id,
        scorecard_id=scorecard_id,
        changes={"scorecard_id": [scorecard_id, None]},
    )
    await session.commit()


@dataclass(frozen=True, slots=True)
class Shared:
    """What a valid token opens."""

    scorecard_id: uuid.UUID
    name: str


_FIND = """
SELECT s.id, s.name FROM share_links l JOIN scorecards s ON s.id = l.scorecard_id
WHERE l.token_hash = $1
"""


async def find_shared(db: asyncpg.Pool | asyncpg.Connection, token: str) -> Shared | None:
    """The scorecard `token` opens, or None (unknown, revoked, or not a token at all)."""
    if not _TOKEN_SHAPE.match(token):
        return None
    row = await db.fetchrow(_FIND, hash_token(token))
    return None if row is None else Shared(row["id"], row["name"])
