"""`Depends(require(Scope.write))`: authenticate the caller and check the permission.
`ReadConnection`: the same for reads served from the read pool, on the connection they use."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBearer

from app.auth.keys import GRANTS, Caller, Scope, find_caller
from app.core.errors import Forbidden, Unauthorized

# Declared for the OpenAPI document only; parsing is ours, so errors are problem+json.
bearer_scheme = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer <key>`")
basic_scheme = HTTPBasic(
    auto_error=False, description="xAPI clients: any user, the key as password"
)


def _presented_key(request: Request, *, allow_basic: bool) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if allow_basic and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


async def _authorize(
    request: Request, db: asyncpg.Pool | asyncpg.Connection, permission: Scope, allow_basic: bool
) -> Caller:
    key = _presented_key(request, allow_basic=allow_basic)
    if key is None:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    caller = await find_caller(db, key)
    if caller is None:
        raise Unauthorized("unknown or revoked API key")
    if permission not in GRANTS[caller.scope]:
        raise Forbidden(f"this key has scope '{caller.scope}'; this needs '{permission}'")
    return caller


def require(permission: Scope, *, allow_basic: bool = False) -> Callable[..., Any]:
    async def authenticate(
        request: Request,
        _: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    ) -> Caller:
        return await _authorize(request, request.app.state.read_pool, permission, allow_basic)

    return authenticate


async def _read_connection(
    request: Request,
    _: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
) -> AsyncIterator[asyncpg.Connection]:
    async with request.app.state.read_pool.acquire() as connection:
        await _authorize(request, connection, Scope.read, allow_basic=False)
        yield connection


# A read-pool connection for an endpoint that needs scope read, the key checked on it: one
# pool round trip per request instead of two. Released as soon as the endpoint returns.
ReadConnection = Annotated[asyncpg.Connection, Depends(_read_connection, scope="function")]
