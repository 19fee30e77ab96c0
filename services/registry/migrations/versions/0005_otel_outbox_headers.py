"""Outbox rows keep the headers of the request that wrote them (request id, W3C trace
context), so the message the relay publishes later joins that request's trace.

Nullable, no default: rows written before, and rows written outside any request, have
none; adding the column rewrites nothing.

Revision ID: otel_registry_outbox_headers
Revises: 0004_partnerships
"""

from collections.abc import Sequence

from shared.db.migration_ops import add_outbox_headers, drop_outbox_headers

revision: str = "otel_registry_outbox_headers"
down_revision: str | None = "0004_partnerships"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_headers("registry")


def downgrade() -> None:
    drop_outbox_headers("registry")
