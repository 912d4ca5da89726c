"""Fast JSON with the types this service uses (UUID, aware datetimes)."""

from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


loads = orjson.loads
