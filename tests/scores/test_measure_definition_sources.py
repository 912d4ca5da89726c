"""A measure's definition is written down in four places: the engine's model
(`MeasureDefinition`), the ORM columns it is read from (`app.scores.data`), the columns whose
change restamps the scorecard's definition (the trigger of migration 0004, read back from the
database), and the API's `MeasureCreate`. These tests fail when one of them gains or loses a
field the others do not."""

from __future__ import annotations

import dataclasses

from sqlalchemy import text

from app.measures.schemas import MeasureCreate
from app.scorecards.models import Measure
from app.scores.data import _MEASURE_COLUMNS
from app.scoring import MeasureDefinition

ENGINE_FIELDS = [field.name for field in dataclasses.fields(MeasureDefinition)]
# What a measure has besides its definition: described, owned, fed from xAPI; no score moves.
NOT_DEFINITION = {"description", "owner", "xapi", "level", "due_after_days"}


def _read_columns() -> list[str]:
    """`m.thresholds::text` → thresholds."""
    return [c.strip().removeprefix("m.").split("::")[0] for c in _MEASURE_COLUMNS.split(",")]


def test_the_engine_reads_every_field_of_its_model_in_order():
    # `measure_definition` unpacks the record in this order.
    assert _read_columns() == ENGINE_FIELDS


def test_every_column_the_engine_reads_is_an_orm_column():
    assert set(_read_columns()) <= set(Measure.__table__.columns.keys())


# The API's `source` ({"measure_id"} or {"scorecard_id"}) is the engine's two source fields.
SOURCE_FIELDS = {"source_measure_id", "source_scorecard_id"}


def test_measure_create_has_every_definition_field_of_the_engine_model():
    api = set(MeasureCreate.model_fields) - NOT_DEFINITION - {"source"} | SOURCE_FIELDS
    assert api == set(ENGINE_FIELDS) - {"id"}


async def test_the_definition_stamp_trigger_watches_what_the_engine_reads(sessionmaker):
    async with sessionmaker() as session:
        watched = set(
            await session.scalars(
                text("""
                SELECT a.attname
                FROM pg_trigger t
                JOIN pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = ANY(t.tgattr)
                WHERE t.tgrelid = 'measures'::regclass AND t.tgname = 'restamp_scorecard'
                """)
            )
        )
    # The id never changes; a measure moved to another scorecard changes both definitions.
    assert watched == set(ENGINE_FIELDS) - {"id"} | {"scorecard_id"}


def test_a_target_step_names_the_same_fields_everywhere():
    # The engine's step, the API's step (in and out) and what a step may replace.
    from app.measures.schemas import STEP_FIELDS, TargetStep, TargetStepOut
    from app.scoring import TargetStep as EngineStep
    from app.scoring.model import SCHEDULED_FIELDS

    engine = [f.name for f in dataclasses.fields(EngineStep) if f.name != "starts"]
    assert engine == list(SCHEDULED_FIELDS) == list(STEP_FIELDS)
    assert [f for f in TargetStep.model_fields if f != "from_"] == list(STEP_FIELDS)
    assert [f for f in TargetStepOut.model_fields if f != "from_"] == list(STEP_FIELDS)
    assert set(STEP_FIELDS) <= set(MeasureCreate.model_fields)
