"""Base models for request and response bodies, and shared field types."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")


class RequestBody(BaseModel):
    """Strict input: unknown fields, NaN and ±Infinity are rejected with 422."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ResponseBody(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(ResponseBody, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `?cursor=` to get the next page; null on the last page."
    )


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=10_000)]
Weight = Annotated[float, Field(ge=0, le=1_000_000)]
