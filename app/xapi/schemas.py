"""The xAPI bodies as the OpenAPI document names them. The LRS parses statements itself
(app/xapi/statements.py: xAPI's rules, 400s rather than 422s); these models describe exactly
what that check accepts, for generated clients and for the contract tests."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel

# As the check reads an IRI: a string with a colon, at most 2,048 characters.
Iri = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^[^\x00]*:[^\x00]*$")]


class _Open(BaseModel):
    """Any further xAPI properties are kept as sent."""

    model_config = ConfigDict(extra="allow")


class XapiVerb(_Open):
    id: Iri = Field(examples=["http://adlnet.gov/expapi/verbs/completed"])


class XapiObject(_Open):
    objectType: Literal["Activity", "StatementRef"] = "Activity"
    id: Iri = Field(examples=["http://lms.example.com/course/onboarding"])


class XapiScore(BaseModel):
    scaled: float | None = Field(None, ge=-1, le=1)
    raw: float | None = None
    min: float | None = None
    max: float | None = None


class XapiResult(_Open):
    success: bool | None = None
    completion: bool | None = None
    score: XapiScore | None = None
    duration: str | None = None


class XapiStatement(BaseModel):
    """An xAPI 1.0.3 statement. Missing `id`, `timestamp` and `stored` are filled in; a
    timestamp without an offset is read as UTC. U+0000 anywhere in it → 400 (PostgreSQL's
    jsonb cannot hold it)."""

    model_config = ConfigDict(extra="forbid")
    id: uuid.UUID | None = None
    actor: dict[str, Any] = Field(examples=[{"mbox": "mailto:ada@example.com", "name": "Ada"}])
    verb: XapiVerb
    object: XapiObject
    result: XapiResult | None = None
    context: dict[str, Any] | None = None
    timestamp: AwareDatetime | None = Field(
        None, description="Within [1900-01-01, 2200-01-01); it becomes the readings' observed_at."
    )
    stored: AwareDatetime | None = None
    authority: dict[str, Any] | None = None
    version: Annotated[str, Field(pattern=r"^1\.0(\.\d+)?$")] | None = None
    attachments: list[dict[str, Any]] | None = None


class StatementIds(RootModel[list[uuid.UUID]]):
    """The ids of the stored statements, in the order they were sent."""


class StatementResult(BaseModel):
    statements: list[dict[str, Any]]
    more: str = Field(description="Where the next page is, or an empty string.")


class About(BaseModel):
    version: list[str] = Field(examples=[["1.0.3"]])
