"""Webhooks: subscriptions, deliveries with their attempts, the tenants of each B2B
event (for agendas), and the inbox of the gateway's consumers.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.db.migration_ops import (
    create_inbox,
    grant_sequences,
    grant_tables,
    private_wall,
    tenant_is,
)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "gateway"
TABLES = ("webhook_subscriptions", "webhook_deliveries", "webhook_attempts")


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("event_types", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
        schema=S,
    )
    op.create_index(
        op.f("ix_gateway_webhook_subscriptions_tenant"),
        "webhook_subscriptions",
        ["tenant"],
        schema=S,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replay_of", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["gateway.webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("seq", name=op.f("uq_webhook_deliveries_seq")),
        schema=S,
    )
    op.create_index(
        op.f("ix_gateway_webhook_deliveries_subscription_id"),
        "webhook_deliveries",
        ["subscription_id"],
        schema=S,
    )
    # The dispatcher's two questions: what is due, and is an earlier one of the same
    # subject still waiting.
    op.execute(
        "CREATE INDEX ix_webhook_deliveries_due ON gateway.webhook_deliveries "
        "(next_attempt_at) WHERE state = 'pending'"
    )
    op.execute(
        "CREATE INDEX ix_webhook_deliveries_subject ON gateway.webhook_deliveries "
        "(subscription_id, subject, seq) WHERE state = 'pending'"
    )
    # One delivery per event and subscription, however often the bus redelivers it;
    # replays are extra rows of their own.
    op.execute(
        "CREATE UNIQUE INDEX uq_webhook_deliveries_event ON gateway.webhook_deliveries "
        "(subscription_id, event_id) WHERE replay_of IS NULL"
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.UUID(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["gateway.webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
        schema=S,
    )
    op.create_index(
        op.f("ix_gateway_webhook_attempts_delivery_id"),
        "webhook_attempts",
        ["delivery_id"],
        schema=S,
    )
    op.create_table(
        "webhook_event_tenants",
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "tenant", name=op.f("pk_webhook_event_tenants")),
        schema=S,
    )
    create_inbox(S)
    # Tenant walls in the database too: a query that forgets its tenant filter still
    # sees only the caller's subscriptions and deliveries ('*' is the operator and the
    # gateway's own workers).
    for table in ("webhook_subscriptions", "webhook_deliveries"):
        private_wall(S, table, tenant_is("tenant"))
    grant_tables(S, *TABLES, "webhook_event_tenants", "inbox")
    grant_sequences(S)


def downgrade() -> None:
    for table in ("inbox", "webhook_event_tenants", "webhook_attempts", "webhook_deliveries"):
        op.drop_table(table, schema=S)
    op.drop_table("webhook_subscriptions", schema=S)
