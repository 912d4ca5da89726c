"""Fast JSON with the types this service uses (UUID, aware datetimes)."""

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

# Aware datetimes here are UTC, written "…Z" as everywhere in the API (pydantic writes them so).
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def _default(value: Any) -> str:
    """asyncpg's own uuid.UUID subclass, which orjson does not take for a UUID."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=_OPTIONS)


loads = orjson.loads


def rfc3339(instant: datetime) -> str:
    """An aware instant as the API writes it: UTC, with `Z` (for messages; bodies use orjson)."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
