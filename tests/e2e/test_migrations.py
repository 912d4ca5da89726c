"""The schema is built only by Alembic, and every migration can be undone and redone."""

from __future__ import annotations

import asyncio

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


def test_upgrade_downgrade_upgrade(database_url):
    scratch = make_url(database_url).set(database="scorecard_migration_roundtrip")
    url = scratch.render_as_string(hide_password=False)
    asyncio.run(
        _admin(
            database_url,
            f"DROP DATABASE IF EXISTS {scratch.database}",
            f"CREATE DATABASE {scratch.database}",
        )
    )
    try:
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
    finally:
        asyncio.run(_admin(database_url, f"DROP DATABASE IF EXISTS {scratch.database}"))


def test_rows_stored_before_the_bounds_existed_are_removed_and_counted(database_url, caplog):
    """A reading at -infinity or beyond ±10^15, stored by an earlier version, used to make
    every score of its scorecard answer 500; the migration that adds the bounds deletes such
    rows (their meaning is unknowable), keeps the rest, and the database refuses new ones."""
    scratch = make_url(database_url).set(database="scorecard_migration_bounds")
    url = scratch.render_as_string(hide_password=False)
    asyncio.run(
        _admin(
            database_url,
            f"DROP DATABASE IF EXISTS {scratch.database}",
            f"CREATE DATABASE {scratch.database}",
        )
    )
    try:
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
    finally:
        asyncio.run(_admin(database_url, f"DROP DATABASE IF EXISTS {scratch.database}"))


def test_existing_readings_are_kept_when_the_table_is_partitioned(database_url):
    """The table before partitioning becomes the history partition; readings observed after the
    migration's month move to partitions of their own; every external_id is in the key table,
    which is what finds a repeat, whatever its month."""
    scratch = make_url(database_url).set(database="scorecard_migration_partitions")
    url = scratch.render_as_string(hide_password=False)
    measure = "00000000-0000-7000-8000-000000000002"
    asyncio.run(
        _admin(
            database_url,
            f"DROP DATABASE IF EXISTS {scratch.database}",
            f"CREATE DATABASE {scratch.database}",
        )
    )
    try:
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
    finally:
        asyncio.run(_admin(database_url, f"DROP DATABASE IF EXISTS {scratch.database}"))
