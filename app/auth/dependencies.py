"""`Depends(require(Scope.write))`: authenticate the caller and check the permission.
`ReadConnection`: the same for reads served from the read pool, checked by their first
statement."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBearer

from app.audit.log import Actor
from app.auth.keys import GRANTS, Caller, Scope, find_caller, find_caller_at, hash_key
from app.core.errors import Forbidden, Unauthorized
from app.core.reads import Reader

# Declared for the OpenAPI document only; parsing is ours, so errors are problem+json.
_BEARER = "API key: `Authorization: Bearer <key>`"
bearer_scheme = HTTPBearer(auto_error=False, description=_BEARER)
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


def _admitted(caller: Caller | None, permission: Scope) -> Caller:
    """The caller, if its key is known and its scope grants `permission` (else 401 / 403)."""
    if caller is None:
        raise Unauthorized("unknown or revoked API key")
    if permission not in GRANTS[caller.scope]:
        raise Forbidden(f"this key has scope '{caller.scope}'; this needs '{permission}'")
    return caller


async def _authorize(
    request: Request, db: asyncpg.Pool | asyncpg.Connection, permission: Scope, allow_basic: bool
) -> Caller:
    key = _presented_key(request, allow_basic=allow_basic)
    if key is None:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    if request.app.state.reads.replica is None:
        caller = _admitted(await find_caller(db, key), permission)
    else:  # the position a replica must have replayed for this request's reads
        found, request.state.primary_position = await find_caller_at(db, key)
        caller = _admitted(found, permission)
    request.state.actor = Actor(caller.key_id, caller.name)  # for the audit log
    return caller


def require(permission: Scope, *, allow_basic: bool = False) -> Callable[..., Any]:
    async def authenticate(
        request: Request,
        _: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    ) -> Caller:
        return await _authorize(request, request.app.state.read_pool, permission, allow_basic)

    return authenticate


# The caller's key row beside a read's own rows, in one statement: `q` is the read (with the
# key's hash as its last parameter); a key with no rows to show still yields one row, with
# `found` false. The rows keep the read's order (a nested loop over the one key row).
_WITH_CALLER = (
    "SELECT k.id AS caller_id, k.name AS caller_name, k.scope AS caller_scope, "
    "NOT (q IS NULL) AS found, q.* "
    "FROM (SELECT id, name, scope FROM api_keys WHERE key_hash = ${key}) k "
    "LEFT JOIN LATERAL ({sql}) q ON true"
)
_OWN_COLUMNS = 4  # caller_id, caller_name, caller_scope, found


class ReadAccess:
    """The read pool, for an endpoint that needs scope read. Its first statement also looks up
    the caller's key (401/403 before any row is used), so a read costs one round trip to the
    database, not two; later statements run as they are. Each statement takes a connection
    from the pool for just that statement: outside a transaction each one sees its own
    snapshot either way, and the endpoint needs no cleanup step once it has answered.
    With a read replica, lists get a caller already checked on the primary and a `Reader`
    that runs each statement where `ReadRouter` says."""

    __slots__ = ("_key_hash", "_reader", "caller")

    def __init__(self, reader: Reader, key: str, caller: Caller | None = None) -> None:
        self._reader, self._key_hash = reader, hash_key(key)
        self.caller = caller

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        if self.caller is not None:
            return await self._reader.fetch(sql, *args)
        statement = _WITH_CALLER.format(sql=sql, key=len(args) + 1)
        rows = await self._reader.fetch(statement, *args, self._key_hash)
        caller = None
        if rows:
            first = rows[0]
            caller = Caller(first["caller_id"], first["caller_name"], Scope(first["caller_scope"]))
        self.caller = _admitted(caller, Scope.read)
        return [row for row in rows if row["found"]]

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if self.caller is not None:
            return await self._reader.fetchval(sql, *args)
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[_OWN_COLUMNS]


class _Routed:
    """A list's statements with a read replica: each on the replica when it has replayed as
    far as the primary had when the request began, else on the primary (app/core/replica.py)."""

    __slots__ = ("_reads", "_request")

    def __init__(self, request: Request) -> None:
        self._request, self._reads = request, request.app.state.reads

    async def fetch(self, sql: str, /, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._reads.run(
            self._request, lambda connection: connection.fetch(sql, *args)
        )
        return rows

    async def fetchrow(self, sql: str, /, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, /, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]


class _ReadKey(HTTPBearer):
    """The dependency of a hot read: the bearer scheme itself (so the OpenAPI document names
    it, as for every other endpoint) that answers with the endpoint's `ReadAccess`. One plain
    dependency: each level of `Depends` costs a hot read measurably (bench/crud.py).
    `routed`: a list, which a read replica may serve."""

    def __init__(self, *, routed: bool) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer", description=_BEARER)
        self.routed = routed

    async def __call__(self, request: Request) -> ReadAccess:  # type: ignore[override]
        key = _presented_key(request, allow_basic=False)
        if key is None:
            raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
        if self.routed and request.app.state.reads.replica is not None:
            # The key on the primary (revocation holds at once), the statements where caught up.
            caller = await _authorize(request, request.app.state.read_pool, Scope.read, False)
            return ReadAccess(_Routed(request), key, caller)
        return ReadAccess(request.app.state.read_pool, key)


# For endpoints that read one resource with scope read: on the primary's read pool, the key
# check and the row in one statement.
ReadConnection = Annotated[ReadAccess, Depends(_ReadKey(routed=False))]
# Lists: on a read replica when one is configured and caught up, else as ReadConnection.
ListConnection = Annotated[ReadAccess, Depends(_ReadKey(routed=True))]
