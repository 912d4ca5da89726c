"""xAPI statements are kept as `json`, not `jsonb`: the exact text the client sent. jsonb
cannot hold U+0000 in a string, so a statement with one had to be refused, though xAPI asks an
LRS to keep what it is sent; json keeps any valid JSON, key order and duplicate keys included.
Nothing queries inside a statement (the columns beside it are what mapping, backfill and
listing use), so nothing is lost by it.

Downgrading turns the column back into jsonb, which fails if a stored statement holds U+0000.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE xapi_statements ALTER COLUMN statement TYPE json USING statement::json")


def downgrade() -> None:
    op.execute(
        "ALTER TABLE xapi_statements ALTER COLUMN statement TYPE jsonb USING statement::jsonb"
    )
