"""Rate-limit buckets shared by every gateway replica.

UNLOGGED: a bucket is a few seconds of state; after a crash the table comes back empty
and every client starts with a full bucket, which is what a restart did before. In
exchange, no write-ahead log on the hot path.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

from shared.db.migration_ops import grant_tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE UNLOGGED TABLE gateway.rate_buckets ("
        " client_id uuid PRIMARY KEY,"
        " tokens double precision NOT NULL,"
        " allowed boolean NOT NULL,"
        " updated_at timestamptz NOT NULL)"
    )
    grant_tables("gateway", "rate_buckets")


def downgrade() -> None:
    op.execute("DROP TABLE gateway.rate_buckets")
