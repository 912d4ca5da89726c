"""When to try a failed delivery again: the configured schedule with ±20% jitter, stretched to
honour a receiver's `Retry-After` (429/503)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

JITTER = 0.2
# A receiver may slow us down, but not park a delivery for days with one header.
MAX_RETRY_AFTER_SECONDS = 3600.0


def next_delay(
    schedule: tuple[float, ...], attempts_made: int, retry_after: float | None = None
) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones, or None when the
    schedule is exhausted. `schedule[i]` is the wait before attempt i + 1 (the first is
    usually 0: send at once)."""
    if attempts_made >= len(schedule):
        return None
    delay = schedule[attempts_made] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
