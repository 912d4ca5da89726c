from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import AfterValidator, Field, StrictBool, StringConstraints

from app.core.schemas import LongText, Page, PatchBody, RequestBody, ResponseBody
from app.webhooks.ssrf import HIGHEST_PORT, LOWEST_PORT

_BLANK_OR_CONTROL = re.compile(r"[\x00-\x20]")
EventType = Literal[
    "measure.threshold_crossed", "reading.overdue", "initiative.status_changed", "webhook.test"
]
DeliveryStatus = Literal["pending", "delivering", "succeeded", "failed"]


def _webhook_url(value: str) -> str:
    if _BLANK_OR_CONTROL.search(value):
        raise ValueError("must not contain spaces or control characters")
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not url.host:
        raise ValueError("must name a host")
    # httpx parses any number as a port (0, 99999, even -1); nothing can be sent there.
    if url.port is not None and not LOWEST_PORT <= url.port <= HIGHEST_PORT:
        raise ValueError(f"port must be {LOWEST_PORT}-{HIGHEST_PORT}, got {url.port}")
    # Credentials in a URL end up in logs and API responses; receivers verify the signature.
    if url.userinfo:
        raise ValueError("must not contain credentials (user:password@); verify the signature")
    return value


WebhookUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    AfterValidator(_webhook_url),
    # The document says what a URL looks like; the validator also checks host, port and more.
    Field(
        examples=["https://lms.example.com/hooks/scorecard"],
        json_schema_extra={"format": "uri", "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20]+$"},
    ),
]


def _unique(types: list[str]) -> list[str]:
    return list(dict.fromkeys(types))


EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, description="Event types to receive; null or omitted: all types."),
    AfterValidator(_unique),
]
ScorecardFilter = Annotated[
    uuid.UUID | None,
    Field(description="Only events of this scorecard; null: every scorecard."),
]


class WebhookCreate(RequestBody):
    url: WebhookUrl
    event_types: EventTypes | None = None
    scorecard_id: ScorecardFilter = None
    description: LongText | None = None
    active: StrictBool = True


class WebhookUpdate(PatchBody):
    url: WebhookUrl | None = None
    event_types: EventTypes | None = None
    scorecard_id: ScorecardFilter = None
    description: LongText | None = None
    active: StrictBool | None = Field(
        None, description="true re-activates a disabled subscription and clears disabled_reason."
    )

    REQUIRED: ClassVar[frozenset[str]] = frozenset({"url", "active"})


class WebhookOut(ResponseBody):
    id: uuid.UUID
    url: str
    event_types: list[str] | None = Field(description="null: every event type.")
    scorecard_id: uuid.UUID | None
    description: str | None
    active: bool
    disabled_reason: str | None = Field(
        description="Why the service disabled this subscription (410 Gone, or every delivery "
        "failing for 5 days); null otherwise."
    )
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookPage(Page[WebhookOut]):
    """A page of webhook subscriptions."""


class WebhookWithSecret(WebhookOut):
    secret: str = Field(
        description="Signing secret (`whsec_` + base64). Shown only on create and rotation."
    )


class AttemptOut(ResponseBody):
    attempt: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None


class DeliveryOut(ResponseBody):
    id: uuid.UUID
    event_id: uuid.UUID = Field(description="Also the `webhook-id` header of every attempt.")
    event_type: str
    subscription_id: uuid.UUID
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None
    attempt_log: list[AttemptOut] = Field(
        description="HTTP attempts, oldest first (the latest 20)."
    )


class DeliveryPage(Page[DeliveryOut]):
    """A page of deliveries."""


class EventOut(ResponseBody):
    """Exactly the body a webhook carries."""

    type: str
    id: uuid.UUID
    timestamp: datetime
    data: dict[str, Any]


class EventPage(Page[EventOut]):
    """A page of events."""
