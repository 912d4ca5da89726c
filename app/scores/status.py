"""Crossing detection: re-evaluate measures' statuses inside the writing transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession


async def refresh_statuses(session: AsyncSession, measure_ids: Iterable[uuid.UUID]) -> None:
    """Re-evaluate these measures and every derived measure that uses them at now, store each
    status, and record a `measure.threshold_crossed` event for each change. Runs inside the
    caller's transaction, with the measures already locked (`lock_measures`)."""
