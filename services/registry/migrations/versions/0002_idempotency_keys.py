"""Idempotency keys claimed in the same transaction as the write they guard.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "registry"


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f(f"ix_{SCHEMA}_idempotency_keys_created_at"),
        "idempotency_keys",
        ["created_at"],
        schema=SCHEMA,
    )
    # The key embeds the API client's id, so rows need no tenant policy: a caller can
    # only ever name its own keys (the gateway sets the header).
    op.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {SCHEMA}.idempotency_keys TO clusterbridge_app"
    )


def downgrade() -> None:
    op.drop_index(
        op.f(f"ix_{SCHEMA}_idempotency_keys_created_at"),
        table_name="idempotency_keys",
        schema=SCHEMA,
    )
    op.drop_table("idempotency_keys", schema=SCHEMA)
