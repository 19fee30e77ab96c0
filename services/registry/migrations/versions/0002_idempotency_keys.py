"""Idempotency keys claimed in the same transaction as the write they guard.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from shared.db.migration_ops import create_idempotency_keys, drop_idempotency_keys

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "registry"


def upgrade() -> None:
    create_idempotency_keys(SCHEMA)


def downgrade() -> None:
    drop_idempotency_keys(SCHEMA)
