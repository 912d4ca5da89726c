"""PATCH bodies: apply only the fields the client sent; refuse null for required fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.core.errors import ValidationFailed


def sent_fields(body: BaseModel, *, required: frozenset[str]) -> dict[str, Any]:
    # Only the fields sent, but each in full: a nested object sent in part (`{"xapi": {"verb":
    # …}}`) replaces the stored one with its defaults filled in, as on create.
    full = body.model_dump()
    changes = {name: full[name] for name in body.model_fields_set}
    nulls = sorted(name for name in required if name in changes and changes[name] is None)
    if nulls:
        raise ValidationFailed(
            f"{', '.join(nulls)} cannot be null",
            [{"loc": ["body", name], "message": "cannot be null"} for name in nulls],
        )
    return changes
