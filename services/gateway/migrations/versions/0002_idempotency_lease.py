"""Idempotency records hold a lease while their request is forwarded; the gateway's
operator transactions run as the application role like every service's.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.migration_ops import grant_schema

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
    grant_schema("gateway")


def downgrade() -> None:
    op.drop_column("idempotency_keys", "lease_until", schema="gateway")
