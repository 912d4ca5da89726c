"""Base models for request and response bodies, and the field types every value that enters
the service goes through: one text type family, one timestamp type, one number bound."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

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


def drop_null(schema: JsonSchemaValue, names: Iterable[str]) -> JsonSchemaValue:
    """The schema with null taken out of the types of the fields `names`: fields that may be
    left out but, when sent, cannot be null (pydantic writes `X | None = None` as nullable)."""
    for name in names:
        field = schema["properties"].get(name, {})
        if "anyOf" in field:
            options = [o for o in field.pop("anyOf") if o.get("type") != "null"]
            field.update(options[0] if len(options) == 1 else {"anyOf": options})
            field.pop("default", None)
    return schema


class PatchBody(RequestBody):
    """A PATCH body: fields left out stay as they are; null clears an optional field. Fields in
    REQUIRED cannot be null, and the document says so (they are optional, not nullable)."""

    REQUIRED: ClassVar[frozenset[str]] = frozenset()

    def changes(self) -> dict[str, Any]:
        """The fields sent, each in full: a nested object sent in part (`{"xapi": {"verb": …}}`)
        replaces the stored one with its defaults filled in, as on create."""
        full = self.model_dump()
        return {name: full[name] for name in self.model_fields_set}

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.REQUIRED:
            raise ValueError("cannot be null")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return drop_null(handler.resolve_ref_schema(handler(core_schema)), cls.REQUIRED)


# --- text -------------------------------------------------------------------------------------

# C0 control characters other than tab, newline and carriage return. PostgreSQL cannot store
# NUL at all, and the others are never meant in a name or a note; both are refused at the edge.
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
PRINTABLE_MESSAGE = (
    "must not contain control characters (U+0000–U+001F other than tab, newline, CR)"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def has_control_characters(value: str) -> bool:
    """For text that does not pass through a pydantic field (CSV cells, xAPI statements)."""
    return _CONTROL.search(value) is not None


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE),
]
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=PRINTABLE)]
LongText = Annotated[str, StringConstraints(max_length=10_000, pattern=PRINTABLE)]
Unit = Annotated[str, StringConstraints(max_length=50, pattern=PRINTABLE)]
Iri = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=PRINTABLE)]

# --- numbers ----------------------------------------------------------------------------------

# Every number a client sends is a JSON number (strict: true and "5" are not numbers), finite,
# and within ±10^15: sums of many such values stay exact enough and far from overflow.
NUMBER_BOUND = 1e15
Number = Annotated[float, Field(strict=True, ge=-NUMBER_BOUND, le=NUMBER_BOUND)]
Weight = Annotated[float, Field(strict=True, ge=0, le=1_000_000)]


def in_number_bound(value: float) -> bool:
    """For numbers that do not pass through a pydantic field (xAPI scores)."""
    return -NUMBER_BOUND <= value <= NUMBER_BOUND


# --- timestamps -------------------------------------------------------------------------------

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # exclusive
TIMESTAMP_RANGE = "[1900-01-01T00:00:00Z, 2200-01-01T00:00:00Z)"
_RFC3339_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]")


def _timestamp_string(value: Any) -> Any:
    """pydantic also reads numbers (and digit strings) as Unix times; a timestamp here is an
    RFC 3339 string (or, from Python code, a datetime)."""
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339_DATE.match(value)):
        return value
    raise ValueError(
        "must be an RFC 3339 timestamp string with an offset, e.g. 2026-03-01T09:00:00Z"
    )


def check_timestamp_range(value: datetime) -> datetime:
    """The instant, in UTC (as every timestamp the service answers with), if in the range."""
    # The year test first: the instant of 0001-01-01T00:00+14:00 is not even representable.
    if not (1899 <= value.year <= 2200 and EARLIEST <= value < LATEST):
        raise ValueError(f"must lie in {TIMESTAMP_RANGE}")
    return value.astimezone(UTC)


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_timestamp_string),
    AfterValidator(check_timestamp_range),
    # The year range in the document too, so generated clients and contract tests know it.
    Field(examples=["2026-03-01T09:00:00Z"], json_schema_extra={"pattern": r"^(19|2[01])\d\d-"}),
]
