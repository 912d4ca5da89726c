"""HTTP conventions shared by every resource: ETag / If-Match, Location."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from app.core.errors import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(description='Optimistic concurrency: the `ETag` you last saw, e.g. `"3"`.'),
]


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """412 when the client's If-Match names a version other than the current one."""
    if if_match is None:
        return
    candidates = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in candidates and etag(version) not in candidates:
        raise PreconditionFailed(
            f"the resource is at version {version} (ETag {etag(version)}), not {if_match}"
        )
