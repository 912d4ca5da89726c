"""The schema is built only by Alembic, and every migration can be undone and redone."""

from __future__ import annotations

import asyncio

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.migrate import downgrade, head_revision, upgrade


async def _admin(url: str, *statements: str) -> list[str]:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    results = []
    async with engine.connect() as connection:
        for statement in statements:
            result = await connection.execute(text(statement))
            results.append(str(result.scalar_one()) if result.returns_rows else "")
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
