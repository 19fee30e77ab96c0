"""Schedules say why meetings are unplaced or displaced, and the spread of breaks

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Request id -> why it is unplaced.
    op.add_column(
        "schedules",
        sa.Column(
            "reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        schema="events",
    )
    # Published meetings that could not stay: request id, published slot and table, why.
    op.add_column(
        "schedules",
        sa.Column(
            "displaced",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        schema="events",
    )
    op.add_column("schedules", sa.Column("spread", sa.Integer(), nullable=True), schema="events")


def downgrade() -> None:
    op.drop_column("schedules", "spread", schema="events")
    op.drop_column("schedules", "displaced", schema="events")
    op.drop_column("schedules", "reasons", schema="events")
