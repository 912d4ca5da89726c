"""The schema is built only by Alembic, and every migration can be undone and redone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.migrate import downgrade, head_revision, upgrade


async def _admin(url: str, *statements: str) -> list[str]:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    results = []
    try:
        async with engine.connect() as connection:
            for statement in statements:
                result = await connection.execute(text(statement))
                results.append(str(result.scalar_one()) if result.returns_rows else "")
    finally:
        await engine.dispose()
    return results


@contextmanager
def _scratch_database(database_url: str, name: str) -> Iterator[str]:
    """A database of its own beside the test database, dropped afterwards: its URL."""
    scratch = make_url(database_url).set(database=name)
    create = (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    asyncio.run(_admin(database_url, *create))
    try:
        yield scratch.render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(database_url, f"DROP DATABASE IF EXISTS {name}"))


def test_upgrade_downgrade_upgrade(database_url):
    with _scratch_database(database_url, "scorecard_migration_roundtrip") as url:
        upgrade(url)
        downgrade(url, "base")
        [tables] = asyncio.run(
            _admin(
                url,
                "SELECT count(*) FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'",
            )
        )
        assert tables == "0"
        upgrade(url)
        [revision] = asyncio.run(_admin(url, "SELECT version_num FROM alembic_version"))
        assert revision == head_revision()


def test_rows_stored_before_the_bounds_existed_are_removed_and_counted(database_url, caplog):
    """A reading at -infinity or beyond ±10^15, stored by an earlier version, used to make
    every score of its scorecard answer 500; the migration that adds the bounds deletes such
    rows (their meaning is unknowable), keeps the rest, and the database refuses new ones."""
    with _scratch_database(database_url, "scorecard_migration_bounds") as url:
        upgrade(url, "0004")
        asyncio.run(
            _admin(
                url,
                "INSERT INTO scorecards (id, name, timezone, thresholds, score_cap, perspectives)"
                " VALUES ('00000000-0000-7000-8000-000000000001', 'S', 'UTC',"
                ' \'{"green": 90, "amber": 70}\', 100,'
                ' \'[{"key": "customer", "name": "Customer", "weight": 1}]\')',
                "INSERT INTO measures (id, scorecard_id, key, name, perspective, weight,"
                " direction, baseline, target, aggregation, cadence, prorate)"
                " VALUES ('00000000-0000-7000-8000-000000000002',"
                " '00000000-0000-7000-8000-000000000001', 'm', 'M', 'customer', 1,"
                " 'increase', 0, 100, 'sum', 'month', false)",
                *(
                    "INSERT INTO readings (id, measure_id, value, observed_at) VALUES"
                    f" (gen_random_uuid(), '00000000-0000-7000-8000-000000000002', {value},"
                    f" '{observed_at}')"
                    for value, observed_at in [
                        (1, "2026-03-01T00:00:00Z"),
                        (2, "-infinity"),
                        (3, "0001-01-01T00:00:00Z"),
                        ("1e308", "2026-03-01T00:00:00Z"),
                        ("'NaN'", "2026-03-01T00:00:00Z"),
                    ]
                ),
            )
        )
        with caplog.at_level("WARNING"):
            upgrade(url)
        assert "deleted 4 reading(s) and 0 xAPI statement(s)" in caplog.text
        [kept] = asyncio.run(_admin(url, "SELECT string_agg(value::text, ',') FROM readings"))
        assert kept == "1"
        refused = _admin(
            url,
            "INSERT INTO readings (id, measure_id, value, observed_at) VALUES"
            " (gen_random_uuid(), '00000000-0000-7000-8000-000000000002', 1, 'infinity')",
        )
        with pytest.raises(IntegrityError, match="ck_readings_observed_at_range"):
            asyncio.run(refused)


def test_the_rollups_of_existing_readings_are_built_and_an_interrupted_build_resumes(
    database_url,
):
    """Migration 0013 sums up the readings stored before it, measure by measure in id order;
    run again after an interruption, it keeps the measures it finished and does the rest."""
    card = "00000000-0000-7000-8000-000000000001"
    measures = [f"00000000-0000-7000-8000-00000000001{i}" for i in range(3)]
    with _scratch_database(database_url, "scorecard_migration_rollups") as url:
        upgrade(url, "0012")
        asyncio.run(
            _admin(
                url,
                "INSERT INTO scorecards (id, name, timezone, thresholds, score_cap, perspectives)"
                f" VALUES ('{card}', 'S', 'UTC', '{{\"green\": 90, \"amber\": 70}}', 100,"
                ' \'[{"key": "customer", "name": "Customer", "weight": 1}]\')',
                *(
                    "INSERT INTO measures (id, scorecard_id, key, name, perspective, weight,"
                    " direction, baseline, target, aggregation, cadence, prorate)"
                    f" VALUES ('{m}', '{card}', 'm{i}', 'M', 'customer', 1,"
                    " 'increase', 0, 100, 'sum', 'month', false)"
                    for i, m in enumerate(measures)
                ),
                # Per measure: 2 + 5 on 1 March (UTC), 4 just before midnight on 2 March.
                *(
                    "INSERT INTO readings (id, measure_id, value, observed_at) VALUES"
                    f" (gen_random_uuid(), '{m}', {value}, '{observed_at}')"
                    for m in measures
                    for value, observed_at in [
                        (2, "2026-03-01T00:00:00Z"),
                        (5, "2026-03-01T12:00:00+05:45"),
                        (4, "2026-03-02T23:59:59.999999Z"),
                    ]
                ),
                # As an upgrade stopped after the first measure leaves it: the table, and that
                # measure's rollup (a marker here, n = 99, to show it is not redone).
                "CREATE TABLE reading_rollups (measure_id uuid NOT NULL REFERENCES measures"
                " ON DELETE CASCADE, bucket_start timestamptz NOT NULL, n integer NOT NULL,"
                " total double precision NOT NULL, minimum double precision NOT NULL,"
                " maximum double precision NOT NULL, CONSTRAINT pk_reading_rollups PRIMARY KEY"
                " (measure_id, bucket_start) INCLUDE (n, total, minimum, maximum))",
                f"INSERT INTO reading_rollups VALUES ('{measures[0]}', '2026-03-01Z', 99, 0, 0, 0)",
            )
        )
        upgrade(url)
        [rows] = asyncio.run(
            _admin(
                url,
                "SELECT string_agg(format('%s %s %s %s %s %s', right(measure_id::text, 1),"
                " to_char(bucket_start AT TIME ZONE 'UTC', 'MM-DD'), n, total, minimum, maximum),"
                " '; ' ORDER BY measure_id, bucket_start) FROM reading_rollups",
            )
        )
        assert rows == (
            "0 03-01 99 0 0 0; "  # finished before the interruption: kept
            "1 03-01 2 7 2 5; 1 03-02 1 4 4 4; "
            "2 03-01 2 7 2 5; 2 03-02 1 4 4 4"
        )


def test_existing_readings_are_kept_when_the_table_is_partitioned(database_url):
    """The table before partitioning becomes the history partition; readings observed after the
    migration's month move to partitions of their own; every external_id is in the key table,
    which is what finds a repeat, whatever its month."""
    measure = "00000000-0000-7000-8000-000000000002"
    with _scratch_database(database_url, "scorecard_migration_partitions") as url:
        upgrade(url, "0012")
        asyncio.run(
            _admin(
                url,
                "INSERT INTO scorecards (id, name, timezone, thresholds, score_cap, perspectives)"
                " VALUES ('00000000-0000-7000-8000-000000000001', 'S', 'UTC',"
                ' \'{"green": 90, "amber": 70}\', 100,'
                ' \'[{"key": "customer", "name": "Customer", "weight": 1}]\')',
                "INSERT INTO measures (id, scorecard_id, key, name, perspective, weight,"
                f" direction, baseline, target, aggregation, cadence, prorate) VALUES ('{measure}',"
                " '00000000-0000-7000-8000-000000000001', 'm', 'M', 'customer', 1,"
                " 'increase', 0, 100, 'sum', 'month', false)",
                *(
                    "INSERT INTO readings (id, measure_id, value, observed_at, external_id) VALUES"
                    f" (gen_random_uuid(), '{measure}', {value}, '{observed_at}', {external_id})"
                    for value, observed_at, external_id in [
                        (1, "2020-01-15T00:00:00Z", "'old'"),
                        (2, "2026-11-30T23:00:00Z", "NULL"),
                        (3, "2150-06-01T00:00:00Z", "'planned'"),
                    ]
                ),
            )
        )
        upgrade(url)
        [placed] = asyncio.run(
            _admin(
                url,
                "SELECT string_agg(value || ':' || tableoid::regclass::text, ',' ORDER BY value)"
                " FROM readings",
            )
        )
        assert placed == "1:readings_history,2:readings_history,3:readings_y2150m06"
        [keys] = asyncio.run(
            _admin(
                url,
                "SELECT string_agg(k.external_id || ':' || r.value, ',' ORDER BY r.value)"
                " FROM reading_keys k"
                " JOIN readings r ON r.id = k.reading_id AND r.observed_at = k.observed_at",
            )
        )
        assert keys == "old:1,planned:3"
