from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from app.audit.log import Action
from app.core.schemas import Page, ResponseBody

Change = Annotated[list[Any], Field(min_length=2, max_length=2, description="[old, new]")]


class ActorOut(ResponseBody):
    api_key_id: uuid.UUID
    name: str = Field(description="The key's name when it made the change.")


class AuditEntryOut(ResponseBody):
    id: uuid.UUID
    at: datetime
    actor: ActorOut
    action: Action
    resource_type: str
    resource_id: uuid.UUID | None = Field(
        description="Null for a request that wrote many readings (batch, CSV, xAPI)."
    )
    scorecard_id: uuid.UUID | None
    changes: dict[str, Change] | None = Field(
        description="Each changed field as [old, new]; for a request that wrote many "
        "readings, counts as [null, n]. Secrets never appear."
    )


class AuditPage(Page[AuditEntryOut]):
    """A page of audit entries, newest first."""
