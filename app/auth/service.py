"""API key operations. Each public function that writes is one unit of work: it commits."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.log import Action, diff, record, snapshot
from app.auth import keys
from app.auth.keys import Scope
from app.auth.models import ApiKey
from app.core.errors import NotFound
from app.core.pagination import paginate


async def create_api_key(session: AsyncSession, name: str, scope: Scope) -> tuple[ApiKey, str]:
    """The stored key and its plaintext (shown once, never stored)."""
    api_key, plaintext = await keys.create_api_key(session, name, scope)
    await record(
        session,
        Action.api_key_created,
        resource_id=api_key.id,
        scorecard_id=None,
        changes=diff({}, snapshot(api_key)),
    )
    await session.commit()
    return api_key, plaintext


async def list_api_keys(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[ApiKey], str | None]:
    return await paginate(session, select(ApiKey), keys=[ApiKey.id], limit=limit, cursor=cursor)


async def revoke_api_key(session: AsyncSession, key_id: uuid.UUID) -> None:
    deleted = (
        await session.execute(
            delete(ApiKey)
            .where(ApiKey.id == key_id)
            .returning(ApiKey.name, ApiKey.scope, ApiKey.prefix)
        )
    ).one_or_none()
    if deleted is None:
        raise NotFound(f"API key {key_id} not found")
    await record(
        session,
        Action.api_key_deleted,
        resource_id=key_id,
        scorecard_id=None,
        changes=diff(deleted._asdict(), {}),
    )
    await session.commit()
