"""Idempotency records hold a lease while their request is forwarded; the gateway's
operator transactions run as the application role like every service's.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "idempotency_keys",
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        schema="gateway",
    )
    op.execute("GRANT USAGE ON SCHEMA gateway TO clusterbridge_app")
    op.execute(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA gateway TO clusterbridge_app"
    )
    op.execute("GRANT USAGE ON ALL SEQUENCES IN SCHEMA gateway TO clusterbridge_app")


def downgrade() -> None:
    op.drop_column("idempotency_keys", "lease_until", schema="gateway")
