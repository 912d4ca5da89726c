"""The data contract with the database: which readings the engine needs, and what it needs to know.

The engine first lists the windows it needs, the database answers all of them in one query with a
WindowStats each, then the engine evaluates. `summarize` is the reference the SQL must match.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Window:
    """Readings of one measure with `start <= observed_at < until` are in the window.

    The window's "latest" reading is the latest with `observed_at < until`, however old.
    """

    measure_id: UUID
    start: datetime
    until: datetime


@dataclass(frozen=True)
class WindowStats:
    """Statistics of one window; `total`, `minimum` and `maximum` are None when `count` is 0.
    `subjects`: the number of distinct non-null subjects of the window's readings whose value is
    not 0 (only counted for the windows of `distinct_subjects` measures; 0 for the others)."""

    count: int = 0
    total: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    latest_value: float | None = None
    latest_observed_at: datetime | None = None
    subjects: int = 0


NO_READINGS = WindowStats()


@dataclass(frozen=True)
class Reading:
    value: float
    observed_at: datetime
    subject: str | None = None


def summarize(readings: Iterable[Reading], window: Window) -> WindowStats:
    """The statistics of `readings` (all of one measure) for `window`.

    Of several readings at the same `observed_at`, the one that comes later in `readings` is the
    latest; the SQL must break ties the same way (e.g. `ORDER BY observed_at DESC, id DESC` with
    time-ordered ids, so the newer reading wins).
    """
    in_window: list[float] = []
    subjects: set[str] = set()
    latest: Reading | None = None
    for reading in readings:
        if reading.observed_at >= window.until:
            continue
        if latest is None or reading.observed_at >= latest.observed_at:
            latest = reading
        if reading.observed_at >= window.start:
            in_window.append(reading.value)
            if reading.subject is not None and reading.value != 0:
                subjects.add(reading.subject)
    return WindowStats(
        count=len(in_window),
        total=sum(in_window) if in_window else None,
        minimum=min(in_window, default=None),
        maximum=max(in_window, default=None),
        latest_value=None if latest is None else latest.value,
        latest_observed_at=None if latest is None else latest.observed_at,
        subjects=len(subjects),
    )
