"""Identifiers: UUIDv7, so primary-key order is creation order and indexes stay append-mostly."""

import uuid

from uuid_utils.compat import uuid7


def new_id() -> uuid.UUID:
    return uuid7()
