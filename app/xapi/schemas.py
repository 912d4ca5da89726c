"""The xAPI bodies as the OpenAPI document names them. The LRS parses statements itself
(app/xapi/statements.py: xAPI's rules, 400s rather than 422s); these models describe exactly
what that check accepts, for generated clients and for the contract tests."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, RootModel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.core.schemas import drop_null

# As the check reads an IRI: a string with a colon, at most 2,048 characters, without U+0000
# (verb and object ids are also kept in text columns).
Iri = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^[^\x00]*:[^\x00]*$")]


class _Strict(BaseModel):
    """xAPI properties may be left out, never null; further ones are kept as sent."""

    model_config = ConfigDict(extra="allow")

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return drop_null(handler.resolve_ref_schema(handler(core_schema)), cls.model_fields)


class XapiVerb(_Strict):
    id: Iri = Field(examples=["http://adlnet.gov/expapi/verbs/completed"])


class XapiActivity(_Strict):
    """An Activity (the default objectType)."""

    objectType: Literal["Activity"] | None = None
    id: Iri = Field(examples=["http://lms.example.com/course/onboarding"])


class XapiStatementRef(_Strict):
    """Another statement, by id: what a voiding statement (verb
    http://adlnet.gov/expapi/verbs/voided) names as the statement it voids."""

    objectType: Literal["StatementRef"]
    id: uuid.UUID


class XapiOtherObject(_Strict):
    """An Agent, Group or SubStatement as the object: kept as sent, makes no reading."""

    objectType: Literal["Agent", "Group", "SubStatement"]


class XapiScore(_Strict):
    scaled: float | None = Field(None, ge=-1, le=1)
    raw: float | None = None
    min: float | None = None
    max: float | None = None


class XapiResult(_Strict):
    success: bool | None = None
    score: XapiScore | None = None


class XapiStatement(_Strict):
    """An xAPI 1.0.3 statement, kept exactly as sent. Missing `id`, `timestamp` and `stored`
    are filled in; a timestamp without an offset is read as UTC."""

    model_config = ConfigDict(extra="forbid")
    id: uuid.UUID | None = None
    actor: dict[str, Any] = Field(examples=[{"mbox": "mailto:ada@example.com", "name": "Ada"}])
    verb: XapiVerb
    object: XapiActivity | XapiStatementRef | XapiOtherObject
    result: XapiResult | None = None
    timestamp: (
        Annotated[
            str,
            Field(
                pattern=r"^(19|2[01])\d\d-",
                description="ISO 8601, within [1900-01-01, 2200-01-01); the readings' observed_at.",
                json_schema_extra={"format": "date-time"},
            ),
        ]
        | None
    ) = None
    context: Any = None
    stored: Any = Field(None, description="Set by the LRS; a sent one is ignored.")
    authority: Any = None
    version: Annotated[str, Field(pattern=r"^1\.0(\.\d+)?$")] | None = None
    attachments: Any = None


class StatementIds(RootModel[list[uuid.UUID]]):
    """The ids of the stored statements, in the order they were sent."""


class StatementResult(BaseModel):
    statements: list[dict[str, Any]]
    more: str = Field(description="Where the next page is, or an empty string.")


class About(BaseModel):
    version: list[str] = Field(examples=[["1.0.3"]])
