"""Alembic, driven from code: `scorecard migrate`, `serve` start-up, tests and /readyz."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

# Where alembic.ini and migrations/ live: the checkout, or the image's /app (the package itself
# is installed into site-packages there).
PROJECT_ROOT = Path(os.environ.get("SCORECARD_PROJECT_ROOT") or Path(__file__).resolve().parents[2])


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # ConfigParser interpolation would choke on '%' in passwords.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate under a PostgreSQL advisory lock (taken in migrations/env.py). Must be called
    from a thread without a running event loop (env.py runs its own)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


@lru_cache
def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://unused"))
    head = script.get_current_head()
    assert head is not None
    return head
