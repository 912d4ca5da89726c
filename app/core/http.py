"""HTTP conventions shared by every resource: ETag / If-Match, and the media types a request
body may come in."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Header, Request, Response
from fastapi.routing import APIRoute

from app.core.errors import PreconditionFailed, UnsupportedMediaType

IfMatch = Annotated[
    str | None,
    Header(
        description='Optimistic concurrency: the `ETag` you last saw, e.g. `"3"` (or `*`). '
        "Any other version than the current one → 412."
    ),
]


def operation_id(route: APIRoute) -> str:
    """Operation ids are the endpoint functions' names (`create_measure`), so generated
    clients read like the API."""
    return route.name


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


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _is_json(media_type: str) -> bool:
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


class Route(APIRoute):
    """Every operation of the service: a request body in a media type the operation does not
    declare → 415, before anything reads it (FastAPI would try to validate CSV as JSON, and a
    hand-parsed body would be read whatever its type). Operations without a body ignore one."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        declared = ((self.openapi_extra or {}).get("requestBody") or {}).get("content") or {}
        media_types = frozenset(declared) | (
            {"application/json"} if self.body_field is not None else set()
        )
        if not media_types:
            return handler
        accepted = ", ".join(sorted(media_types))

        async def checked(request: Request) -> Response:
            headers = request.headers
            if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
                media_type = _media_type(headers.get("content-type", ""))
                if media_type not in media_types and not (
                    _is_json(media_type) and "application/json" in media_types
                ):
                    raise UnsupportedMediaType(
                        f"send the body as {accepted}, not {media_type or 'without a Content-Type'}"
                    )
            return await handler(request)

        return checked
