from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Response
from sqlalchemy import delete, select

from app.auth import keys
from app.auth.dependencies import require
from app.auth.keys import Scope
from app.auth.models import ApiKey
from app.core.database import SessionDep
from app.core.errors import NotFound
from app.core.http import Route
from app.core.pagination import Cursor, Limit, paginate
from app.core.schemas import Name, Page, RequestBody, ResponseBody

router = APIRouter(
    route_class=Route,
    prefix="/v1/api-keys",
    tags=["api-keys"],
    dependencies=[Depends(require(Scope.admin))],
)


class ApiKeyCreate(RequestBody):
    name: Name
    scope: Scope


class ApiKeyOut(ResponseBody):
    id: uuid.UUID
    name: str
    scope: Scope
    prefix: str
    created_at: datetime


class ApiKeyPage(Page[ApiKeyOut]):
    """A page of API keys."""


class ApiKeyCreated(ApiKeyOut):
    key: str


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Create an API key (the key is shown only in this response)",
)
async def create_api_key(
    body: ApiKeyCreate, session: SessionDep, response: Response
) -> ApiKeyCreated:
    api_key, plaintext = await keys.create_api_key(session, body.name, body.scope)
    await session.commit()
    response.headers["Location"] = f"/v1/api-keys/{api_key.id}"
    return ApiKeyCreated(**ApiKeyOut.model_validate(api_key).model_dump(), key=plaintext)


@router.get("", response_model=ApiKeyPage, summary="List API keys (never their secrets)")
async def list_api_keys(
    session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> ApiKeyPage:
    rows, next_cursor = await paginate(
        session,
        select(ApiKey),
        keys=[ApiKey.id],
        limit=limit,
        cursor=cursor,
    )
    return ApiKeyPage(items=[ApiKeyOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key")
async def revoke_api_key(key_id: uuid.UUID, session: SessionDep) -> Response:
    deleted = await session.scalar(delete(ApiKey).where(ApiKey.id == key_id).returning(ApiKey.id))
    if deleted is None:
        raise NotFound(f"API key {key_id} not found")
    await session.commit()
    return Response(status_code=204)
