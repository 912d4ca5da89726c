"""Share links: read access to one scorecard's dashboard and badges by an unguessable token.

- `share_links`: the token is stored only as its SHA-256 (`token_hash`, unique: the lookup of
  every dashboard request); the links go with their scorecard (ON DELETE CASCADE).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE share_links (
    id uuid NOT NULL CONSTRAINT pk_share_links PRIMARY KEY,
    scorecard_id uuid NOT NULL
        CONSTRAINT fk_share_links_scorecard_id_scorecards REFERENCES scorecards (id)
        ON DELETE CASCADE,
    token_hash varchar(64) NOT NULL CONSTRAINT uq_share_links_token_hash UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
)""")
    op.execute("CREATE INDEX ix_share_links_scorecard_id ON share_links (scorecard_id)")


def downgrade() -> None:
    op.execute("DROP TABLE share_links")
