"""Standard Webhooks signatures (https://www.standardwebhooks.com): secrets and headers."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(
    signing_secrets: Iterable[str], message_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    """The headers of one attempt. Several secrets (during a rotation) give several
    space-separated signatures; a receiver accepts the message if any of them verifies."""
    signatures = " ".join(
        Webhook(secret).sign(message_id, timestamp, body) for secret in signing_secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
