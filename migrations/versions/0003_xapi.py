"""xAPI statements.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "xapi_statements",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("verb_id", sa.Text, nullable=False),
        sa.Column("activity_id", sa.Text),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored", sa.DateTime(timezone=True), nullable=False),
        # The statement as received; id/timestamp/stored are filled in from the columns on read.
        sa.Column("statement", JSONB, nullable=False),
    )
    op.create_index("ix_xapi_statements_verb_id", "xapi_statements", ["verb_id", "id"])
    op.create_index("ix_xapi_statements_stored", "xapi_statements", ["stored", "id"])


def downgrade() -> None:
    op.drop_table("xapi_statements")
