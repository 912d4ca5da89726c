"""HTTP for webhook subscriptions, their deliveries and the event log (docs/webhooks.md)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.dependencies import require
from app.auth.keys import Scope
from app.core.database import SessionDep
from app.core.http import IfMatch, Route, etag
from app.core.pagination import Cursor, Limit
from app.core.schemas import Timestamp
from app.core.settings import Settings
from app.webhooks import service
from app.webhooks.events import event_payload
from app.webhooks.models import Subscription
from app.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    EventOut,
    EventPage,
    EventType,
    WebhookCreate,
    WebhookOut,
    WebhookPage,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(route_class=Route, tags=["webhooks"])
can_read = [Depends(require(Scope.read))]
can_admin = [Depends(require(Scope.admin))]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


def _webhook(response: Response, subscription: Subscription) -> WebhookOut:
    response.headers["ETag"] = etag(subscription.version)
    return WebhookOut.model_validate(subscription)


def _with_secret(response: Response, subscription: Subscription) -> WebhookWithSecret:
    response.headers["ETag"] = etag(subscription.version)
    return WebhookWithSecret.model_validate(subscription)


def _delivery(logged: service.LoggedDelivery) -> DeliveryOut:
    fields = {
        name: getattr(logged.delivery, name)
        for name in DeliveryOut.model_fields
        if name != "attempt_log"
    }
    return DeliveryOut(
        **fields, attempt_log=[AttemptOut.model_validate(a) for a in logged.attempts]
    )


@router.post(
    "/v1/webhooks",
    status_code=201,
    dependencies=can_admin,
    summary="Subscribe a URL to events (the secret is shown only in this response)",
    responses={
        422: {
            "description": "Invalid body, unknown scorecard, or a URL that "
            "resolves to an internal address (SSRF guard)"
        }
    },
)
async def create_webhook(
    body: WebhookCreate, session: SessionDep, settings: SettingsDep, response: Response
) -> WebhookWithSecret:
    subscription = await service.create_webhook(session, body, settings)
    response.headers["Location"] = f"/v1/webhooks/{subscription.id}"
    return _with_secret(response, subscription)


@router.get("/v1/webhooks", dependencies=can_read, summary="List webhook subscriptions")
async def list_webhooks(
    session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> WebhookPage:
    rows, next_cursor = await service.list_webhooks(session, limit=limit, cursor=cursor)
    return WebhookPage(items=[WebhookOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/v1/webhooks/{webhook_id}",
    dependencies=can_read,
    summary="Get a webhook subscription (never its secret)",
)
async def get_webhook(webhook_id: uuid.UUID, session: SessionDep, response: Response) -> WebhookOut:
    return _webhook(response, await service.get_webhook(session, webhook_id))


@router.patch(
    "/v1/webhooks/{webhook_id}",
    dependencies=can_admin,
    summary="Update a webhook subscription (partial)",
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookOut:
    subscription = await service.update_webhook(session, webhook_id, body, if_match, settings)
    return _webhook(response, subscription)


@router.delete(
    "/v1/webhooks/{webhook_id}",
    status_code=204,
    dependencies=can_admin,
    summary="Delete a webhook subscription and its delivery history",
)
async def delete_webhook(
    webhook_id: uuid.UUID, session: SessionDep, if_match: IfMatch = None
) -> Response:
    await service.delete_webhook(session, webhook_id, if_match)
    return Response(status_code=204)


@router.post(
    "/v1/webhooks/{webhook_id}/rotate-secret",
    dependencies=can_admin,
    summary="Replace the signing secret (the old one keeps signing for 24 h)",
)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID, session: SessionDep, response: Response, if_match: IfMatch = None
) -> WebhookWithSecret:
    return _with_secret(response, await service.rotate_secret(session, webhook_id, if_match))


@router.post(
    "/v1/webhooks/{webhook_id}/test",
    status_code=202,
    dependencies=can_admin,
    summary="Send a `webhook.test` event to this subscription only",
    responses={409: {"description": "The subscription is disabled"}},
)
async def send_test_event(
    webhook_id: uuid.UUID, session: SessionDep, response: Response
) -> DeliveryOut:
    delivery = await service.send_test(session, webhook_id)  # queued: no attempt yet
    response.headers["Location"] = f"/v1/deliveries/{delivery.id}"
    return _delivery(service.LoggedDelivery(delivery, []))


@router.get(
    "/v1/webhooks/{webhook_id}/deliveries",
    dependencies=can_read,
    summary="List a subscription's deliveries with their attempts, newest first",
)
async def list_deliveries(
    webhook_id: uuid.UUID,
    session: SessionDep,
    status: Annotated[DeliveryStatus | None, Query(description="Only this status.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveryPage:
    rows, next_cursor = await service.list_deliveries(
        session, webhook_id, status=status, limit=limit, cursor=cursor
    )
    return DeliveryPage(items=[_delivery(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/v1/deliveries/{delivery_id}",
    dependencies=can_read,
    summary="Get a delivery with its attempts",
)
async def get_delivery(delivery_id: uuid.UUID, session: SessionDep) -> DeliveryOut:
    return _delivery(await service.get_delivery(session, delivery_id))


@router.post(
    "/v1/deliveries/{delivery_id}/retry",
    status_code=202,
    dependencies=can_admin,
    summary="Send a delivery again now (same webhook-id)",
    responses={409: {"description": "An attempt is in progress, or the subscription is disabled"}},
)
async def retry_delivery(delivery_id: uuid.UUID, session: SessionDep) -> DeliveryOut:
    return _delivery(await service.retry_delivery(session, delivery_id))


@router.get("/v1/events", dependencies=can_read, summary="The event log, oldest first")
async def list_events(
    session: SessionDep,
    after: Annotated[
        uuid.UUID | Timestamp | None,
        Query(
            description="Only events after this point: an event id (exclusive; pass the last id "
            "you processed) or an RFC 3339 timestamp with an offset (events strictly later).",
        ),
    ] = None,
    event_type: Annotated[
        EventType | None, Query(alias="type", description="Only events of this type.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> EventPage:
    """Events in id order (UUIDv7: creation order), for consumers that poll instead of
    receiving webhooks. Each item is exactly the body a webhook carries."""
    rows, next_cursor = await service.list_events(
        session,
        after=after,
        event_type=event_type,
        limit=limit,
        cursor=cursor,
    )
    items = [
        EventOut.model_validate(event_payload(e.id, e.type, e.timestamp, e.data)) for e in rows
    ]
    return EventPage(items=items, next_cursor=next_cursor)
