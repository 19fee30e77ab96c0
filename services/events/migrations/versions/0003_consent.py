"""Consent across tenants: invited participants; who records meeting outcomes.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "participants",
        sa.Column("status", sa.String(length=16), server_default="registered", nullable=False),
        schema="events",
    )
    op.add_column(
        "participants",
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        schema="events",
    )
    op.add_column(
        "events",
        sa.Column(
            "outcomes_by",
            sa.String(length=24),
            server_default="organiser_and_parties",
            nullable=False,
        ),
        schema="events",
    )


def downgrade() -> None:
    op.drop_column("events", "outcomes_by", schema="events")
    op.drop_column("participants", "answered_at", schema="events")
    op.drop_column("participants", "status", schema="events")
