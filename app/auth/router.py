from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Response

from app.auth import service
from app.auth.dependencies import require
from app.auth.keys import Scope
from app.core.database import SessionDep
from app.core.http import Route
from app.core.pagination import Cursor, Limit
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
    api_key, plaintext = await service.create_api_key(session, body.name, body.scope)
    response.headers["Location"] = f"/v1/api-keys/{api_key.id}"
    return ApiKeyCreated(**ApiKeyOut.model_validate(api_key).model_dump(), key=plaintext)


@router.get("", response_model=ApiKeyPage, summary="List API keys (never their secrets)")
async def list_api_keys(
    session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> ApiKeyPage:
    rows, next_cursor = await service.list_api_keys(session, limit=limit, cursor=cursor)
    return ApiKeyPage(items=[ApiKeyOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key")
async def revoke_api_key(key_id: uuid.UUID, session: SessionDep) -> Response:
    await service.revoke_api_key(session, key_id)
    return Response(status_code=204)
