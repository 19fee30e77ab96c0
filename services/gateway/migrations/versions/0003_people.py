"""People: accounts with roles, one-time tokens, sign-in sessions, mail outbox.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.db.migration_ops import grant_tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "gateway"


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("clusters", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invited_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("email", name=op.f("uq_people_email")),
        schema=S,
    )
    op.create_index(op.f("ix_gateway_people_tenant"), "people", ["tenant"], schema=S)
    op.create_table(
        "person_tokens",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["gateway.people.id"], name=op.f("fk_person_tokens_person_id_people")
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_person_tokens")),
        schema=S,
    )
    op.create_index(
        op.f("ix_gateway_person_tokens_person_id"), "person_tokens", ["person_id"], schema=S
    )
    op.create_table(
        "person_sessions",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["gateway.people.id"], name=op.f("fk_person_sessions_person_id_people")
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_person_sessions")),
        schema=S,
    )
    op.create_index(
        op.f("ix_gateway_person_sessions_person_id"), "person_sessions", ["person_id"], schema=S
    )
    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_mail")),
        schema=S,
    )
    op.create_index(
        op.f("ix_gateway_outgoing_mail_next_attempt_at"),
        "outgoing_mail",
        ["next_attempt_at"],
        schema=S,
    )
    op.create_index(
        op.f("ix_gateway_outgoing_mail_sent_at"), "outgoing_mail", ["sent_at"], schema=S
    )
    grant_tables(S, "people", "person_tokens", "person_sessions", "outgoing_mail")


def downgrade() -> None:
    for table in ("outgoing_mail", "person_sessions", "person_tokens", "people"):
        op.drop_table(table, schema=S)
