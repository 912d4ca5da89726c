"""Batch ingestion (JSON and CSV), all or nothing: validate every item, resolve measure keys in
one query, report every problem in one 422, then write through `record_readings` in one
transaction."""

from __future__ import annotations

import csv
import gc
import io
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import Field, TypeAdapter, ValidationError
from pydantic_core import from_json
from sqlalchemy import Boolean, String, Uuid, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.log import Action
from app.core.errors import (
    Conflict,
    PayloadTooLarge,
    ValidationFailed,
    error_message,
)
from app.core.jsonutil import rfc3339
from app.core.schemas import RequestBody
from app.readings.schemas import ReadingCreate
from app.readings.service import NewReading, record_ingest, record_readings
from app.scorecards.schemas import Key

MAX_BATCH = 10_000
CSV_COLUMNS = (
    "measure_id",
    "scorecard_id",
    "measure_key",
    "value",
    "observed_at",
    "external_id",
    "source",
    "note",
    "subject",
)

Location = list[str | int]
_UNKNOWN = "no such measure"


class ReadingBatchItem(ReadingCreate):
    """One reading of a batch, addressed by `measure_id` or by `scorecard_id` + `measure_key`."""

    measure_id: uuid.UUID | None = None
    scorecard_id: uuid.UUID | None = None
    measure_key: Key | None = None


class ReadingBatch(RequestBody):
    readings: list[ReadingBatchItem] = Field(description=f"Up to {MAX_BATCH:,} readings.")


_ITEMS = TypeAdapter(list[ReadingBatchItem])


@dataclass
class Batch:
    """Parsed items (None where an item is invalid) and the problems found so far, as (item
    index, error) pairs. JSON items are located by index, CSV ones by `lines` (the line each
    starts on)."""

    items: list[ReadingBatchItem | None]
    lines: list[int] | None = None
    problems: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def noun(self) -> str:
        return "readings" if self.lines is None else "lines"

    def where(self, index: int) -> Location:
        if self.lines is None:
            return ["body", "readings", index]
        return ["body", "line", self.lines[index]]

    def problem(self, index: int, field_name: str | None, message: str) -> None:
        loc = self.where(index) if field_name is None else [*self.where(index), field_name]
        self.problems.append((index, {"loc": loc, "message": message}))


@dataclass(frozen=True)
class IngestResult:
    created: int
    duplicates: int


# --- parsing ----------------------------------------------------------------------------------


def parse_json_batch(raw: bytes) -> Batch:
    """`{"readings": [...]}`. The whole body is validated in one pass (pydantic's JSON parser is
    the fast path); only when that fails are items validated one by one, so that the 422 can
    also name reference errors of the items that are otherwise fine."""
    try:
        readings: list[ReadingBatchItem | None] = list(
            ReadingBatch.model_validate_json(raw).readings
        )
    except ValidationError:
        return _parse_json_items(raw)
    _check_size(len(readings))
    return Batch(readings)


def _parse_json_items(raw: bytes) -> Batch:
    try:
        # pydantic's parser, like the fast path, reads NaN/Infinity so they fail on the item.
        body = from_json(raw)
    except ValueError as exc:
        raise ValidationFailed.at(["body"], f"invalid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("readings"), list):
        raise ValidationFailed.at(["body", "readings"], 'expected {"readings": [...]}')
    if unknown := sorted(set(body) - {"readings"}):
        raise ValidationFailed(
            "unknown fields",
            [{"loc": ["body", name], "message": "unknown field"} for name in unknown],
        )
    _check_size(len(body["readings"]))
    return _validate_each(body["readings"])


def parse_csv_batch(raw: bytes) -> Batch:
    """A CSV file: a header line naming the columns, then one reading per line. Empty cells are
    absent values. Locations are `["body", "line", n]`, n counting the header as line 1."""
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed.at(["body"], "the file is not UTF-8 text") from None
    # strict: an unterminated quote or a stray one is an error, not a cell that runs on.
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    try:
        header = _csv_header(reader)
        rows, lines, broken = _csv_rows(reader, header)
    except csv.Error as exc:
        raise ValidationFailed.at(
            ["body", "line", reader.line_num], f"malformed CSV: {exc}"
        ) from None
    return _validate_each(rows, lines, broken)


def _csv_header(reader: Any) -> list[str]:
    header = next((row for row in reader if row), None)
    if header is None:
        raise ValidationFailed.at(
            ["body"], "empty file: expected a header line, e.g. measure_id,value,observed_at"
        )
    columns = [name.strip().lower() for name in header]
    where: Location = ["body", "line", reader.line_num]
    if unknown := [c for c in columns if c not in CSV_COLUMNS]:
        raise ValidationFailed.at(where, f"unknown column(s) {unknown}; known: {list(CSV_COLUMNS)}")
    if len(set(columns)) != len(columns):
        raise ValidationFailed.at(where, "a column is named twice")
    missing = [c for c in ("value", "observed_at") if c not in columns]
    if "measure_id" not in columns and not {"scorecard_id", "measure_key"} <= set(columns):
        missing.append("measure_id (or scorecard_id and measure_key)")
    if missing:
        raise ValidationFailed.at(where, f"missing column(s): {', '.join(missing)}")
    return columns


def _csv_rows(
    reader: Any, header: list[str]
) -> tuple[list[dict[str, str]], list[int], dict[int, str]]:
    """Rows as dicts of their non-empty cells, the line each starts on, and what is wrong with
    rows that have the wrong number of fields (by row index)."""
    rows: list[dict[str, str]] = []
    lines: list[int] = []
    broken: dict[int, str] = {}
    line = reader.line_num
    for cells in reader:
        start, line = line + 1, reader.line_num
        if not cells:  # blank line
            continue
        if len(cells) != len(header):
            broken[len(rows)] = f"expected {len(header)} fields, found {len(cells)}"
        row = {name: cell for name, cell in zip(header, cells, strict=False) if cell}
        if "value" in row:
            row["value"] = _csv_number(row["value"])
        rows.append(row)
        lines.append(start)
        _check_size(len(rows))
    return rows, lines, broken


_DECIMAL = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def _csv_number(cell: str) -> float | str:
    """A cell that spells a decimal number, as a number; anything else stays text, for the
    strict number field to refuse ("nan", "inf", "1_000" and "0x10" are not numbers here)."""
    return float(cell) if _DECIMAL.match(cell) else cell


def _check_size(count: int) -> None:
    if count > MAX_BATCH:
        raise PayloadTooLarge(
            f"a batch holds at most {MAX_BATCH:,} readings; split this one into several requests"
        )


def _validate_each(
    raw_items: Sequence[Any], lines: list[int] | None = None, broken: dict[int, str] | None = None
) -> Batch:
    """Validate items in one pass if all are fine, else one by one to collect every error.
    `broken` items are already known to be unusable, with the reason."""
    if not broken:
        try:
            return Batch(list(_ITEMS.validate_python(raw_items)), lines)
        except ValidationError:
            pass
    batch = Batch([], lines)
    for index, raw_item in enumerate(raw_items):
        if broken and index in broken:
            batch.items.append(None)
            batch.problem(index, None, broken[index])
            continue
        try:
            batch.items.append(ReadingBatchItem.model_validate(raw_item))
        except ValidationError as exc:
            batch.items.append(None)
            for error in exc.errors():
                loc = [*batch.where(index), *error["loc"]]
                batch.problems.append((index, {"loc": loc, "message": error_message(error)}))
    return batch


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Around the synchronous steps of a batch that allocate per item (parsing: ~10 acyclic
    objects per item; turning items into readings): left on, the cyclic collector runs dozens
    of times per batch for nothing (measured: ~2x the CPU). Never across an await, so no other
    request ever runs with the collector off, and no concurrent batch can turn it back on
    early."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- resolving and writing --------------------------------------------------------------------

_MEASURES = text("""
SELECT m.id, m.scorecard_id, m.key, m.formula IS NOT NULL AS derived,
    num_nonnulls(m.source_measure_id, m.source_scorecard_id) > 0 AS linked
FROM measures m
WHERE m.id = ANY(CAST(:ids AS uuid[]))
   OR (m.scorecard_id, m.key) IN (
       SELECT * FROM unnest(CAST(:scorecard_ids AS uuid[]), CAST(:keys AS text[])))
""").columns(id=Uuid, scorecard_id=Uuid, key=String, derived=Boolean, linked=Boolean)


class _Linked(str):
    """What a linked measure's address names: why it takes no readings (409, not 422)."""

    __slots__ = ()


async def ingest_json(session: AsyncSession, raw: bytes) -> IngestResult:
    with _gc_paused():
        batch = parse_json_batch(raw)
    return await ingest(session, batch)


async def ingest_csv(session: AsyncSession, raw: bytes) -> IngestResult:
    with _gc_paused():
        batch = parse_csv_batch(raw)
    return await ingest(session, batch)


async def ingest(session: AsyncSession, batch: Batch) -> IngestResult:
    """Resolve, check and write a parsed batch, then commit. Any problem → 422 (or 409 for an
    external_id already stored with different content) and nothing is stored."""
    linked: list[int] = []
    readings = await _resolve(session, batch, linked)
    if batch.problems:
        raise _invalid(batch)
    if linked:
        raise Conflict(
            f"{batch.noun} {_indexes(batch, linked)} name linked measures, which take their "
            "values from their source and no readings; nothing was stored",
            errors=[
                {"loc": [*batch.where(i), "measure_id"], "message": "a linked measure"}
                for i in linked
            ],
        )
    result = await record_readings(session, readings)
    if result.locked:
        raise _locked(batch, readings, result.locked)
    if result.conflicts:
        raise Conflict(
            f"{batch.noun} {_indexes(batch, result.conflicts)} reuse an external_id already "
            "stored with different content; nothing was stored",
            errors=[
                {
                    "loc": [*batch.where(i), "external_id"],
                    "message": "already stored with other content (value, time, source, note "
                    "or subject)",
                }
                for i in result.conflicts
            ],
        )
    await record_ingest(
        session, Action.readings_batch if batch.lines is None else Action.readings_csv, result
    )
    await session.commit()
    return IngestResult(created=result.created, duplicates=len(result.duplicates))


async def _resolve(session: AsyncSession, batch: Batch, linked: list[int]) -> list[NewReading]:
    """Turn valid items into NewReadings, looking every measure up in one query; unknown and
    derived measures and bad addressing become problems of their items."""
    ids = {item.measure_id for item in batch.items if item and item.measure_id}
    pairs = {
        (item.scorecard_id, item.measure_key)
        for item in batch.items
        if item and item.measure_id is None and item.scorecard_id and item.measure_key
    }
    rows = await session.execute(
        _MEASURES,
        {
            "ids": list(ids),
            "scorecard_ids": [scorecard_id for scorecard_id, _ in pairs],
            "keys": [key for _, key in pairs],
        },
    )
    # What each address names: a measure that takes readings, or why it cannot.
    by_id: dict[uuid.UUID, uuid.UUID | str] = {}
    by_key: dict[tuple[uuid.UUID | None, str | None], uuid.UUID | str] = {}
    for row in rows:
        target: uuid.UUID | str = row.id
        if row.derived:
            target = f"measure {row.key!r} is derived from a formula and takes no readings"
        elif row.linked:
            target = _Linked(f"measure {row.key!r} is linked to a source and takes no readings")
        by_id[row.id] = by_key[(row.scorecard_id, row.key)] = target
    with _gc_paused():
        return _readings(batch, by_id, by_key, linked)


def _readings(
    batch: Batch,
    by_id: dict[uuid.UUID, uuid.UUID | str],
    by_key: dict[tuple[uuid.UUID | None, str | None], uuid.UUID | str],
    linked: list[int],
) -> list[NewReading]:
    readings = []
    for index, item in enumerate(batch.items):
        if item is None or not _addressed(batch, index, item):
            continue
        if item.measure_id is not None:
            measure, field_name = by_id.get(item.measure_id, _UNKNOWN), "measure_id"
        else:
            key = (item.scorecard_id, item.measure_key)
            measure, field_name = by_key.get(key, _UNKNOWN), "measure_key"
        if isinstance(measure, _Linked):
            linked.append(index)
            continue
        if isinstance(measure, str):
            batch.problem(index, field_name, measure)
            continue
        readings.append(
            NewReading(
                measure,
                item.value,
                item.observed_at,
                item.source,
                item.external_id,
                item.note,
                item.subject,
            )
        )
    return readings


def _addressed(batch: Batch, index: int, item: ReadingBatchItem) -> bool:
    """Exactly one way of naming the measure: measure_id, or scorecard_id with measure_key."""
    by_key = item.scorecard_id is not None or item.measure_key is not None
    if item.measure_id is not None and not by_key:
        return True
    if item.measure_id is not None:
        batch.problem(
            index, "measure_id", "give measure_id or scorecard_id + measure_key, not both"
        )
    elif item.measure_id is None and not by_key:
        batch.problem(index, "measure_id", "required (or scorecard_id and measure_key)")
    elif item.measure_id is None and item.scorecard_id is None:
        batch.problem(index, "scorecard_id", "required with measure_key")
    elif item.measure_id is None and item.measure_key is None:
        batch.problem(index, "measure_key", "required with scorecard_id")
    else:
        return True
    return False


def _locked(batch: Batch, readings: Sequence[NewReading], locked: dict[int, datetime]) -> Conflict:
    """Every item observed in a locked period, by its place in the batch (the readings are the
    valid items, in order, so their indexes are the items')."""
    indexes = sorted(locked)
    return Conflict(
        f"{batch.noun} {_indexes(batch, indexes)} are observed in locked periods; "
        "nothing was stored",
        errors=[
            {
                "loc": [*batch.where(i), "observed_at"],
                "message": f"observed at {rfc3339(readings[i].observed_at)}, before "
                f"the scorecard's locked_before {rfc3339(locked[i])}: the period is locked",
            }
            for i in indexes
        ],
    )


def _invalid(batch: Batch) -> ValidationFailed:
    batch.problems.sort(key=lambda problem: problem[0])
    bad = sorted({index for index, _ in batch.problems})
    return ValidationFailed(
        f"{len(bad)} of {len(batch.items)} {batch.noun} are invalid ({_indexes(batch, bad)}); "
        "nothing was stored",
        [error for _, error in batch.problems],
    )


def _indexes(batch: Batch, indexes: Sequence[int], shown: int = 20) -> str:
    """The first few item positions (line numbers for CSV), for a human-readable detail."""
    labels = [str(batch.where(i)[-1]) for i in indexes[:shown]]
    more = f" and {len(indexes) - shown} more" if len(indexes) > shown else ""
    return ", ".join(labels) + more
