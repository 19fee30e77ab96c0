"""Outbox rows keep the headers of the request that wrote them (request id, W3C trace
context), so the message the relay publishes later joins that request's trace.

Nullable, no default: rows written before, and rows written outside any request, have
none; adding the column rewrites nothing.

Revision ID: otel_matching_outbox_headers
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "otel_matching_outbox_headers"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema="matching",
    )


def downgrade() -> None:
    op.drop_column("outbox", "headers", schema="matching")
