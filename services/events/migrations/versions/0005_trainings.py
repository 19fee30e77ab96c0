"""Trainings: courses for people with seats and a waiting list

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.db.migration_ops import (
    ANY_TENANT,
    grant_sequences,
    grant_tables,
    tenant_is,
    tenant_wall,
)

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trainings",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("venue", sa.String(length=500), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("sessions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trainings")),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_trainings_capacity_positive")),
        schema="events",
    )
    op.create_index(
        op.f("ix_events_trainings_tenant"), "trainings", ["tenant"], unique=False, schema="events"
    )
    op.create_table(
        "training_registrations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("training_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("person_tenant", sa.String(length=16), nullable=False),
        sa.Column("organiser_tenant", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["training_id"],
            ["events.trainings.id"],
            name=op.f("fk_training_registrations_training_id_trainings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_registrations")),
        sa.UniqueConstraint("seq", name=op.f("uq_training_registrations_seq")),
        schema="events",
    )
    op.create_index(
        op.f("ix_events_training_registrations_training_id"),
        "training_registrations",
        ["training_id"],
        unique=False,
        schema="events",
    )
    # One live place per person and training; after cancelling one may queue again.
    op.execute(
        "CREATE UNIQUE INDEX uq_training_registrations_live ON events.training_registrations "
        "(training_id, person_id) WHERE cancelled_at IS NULL"
    )

    # Trainings are public; only the organiser's tenant changes them.
    tenant_wall("events", "trainings", read="(true)", write=tenant_is("tenant"))
    # A seat is a rank in the queue, so every tenant's transaction must be able to count
    # the queue (the API shows a registration only to its person and the organiser);
    # a person's tenant writes its own places, the organiser marks attendance.
    tenant_wall(
        "events",
        "training_registrations",
        read="(true)",
        write=tenant_is("person_tenant", "organiser_tenant"),
        insert=tenant_is("person_tenant"),
        delete=f"({ANY_TENANT})",
    )
    grant_tables("events", "trainings", "training_registrations")
    grant_sequences("events")


def downgrade() -> None:
    op.drop_table("training_registrations", schema="events")
    op.drop_index(op.f("ix_events_trainings_tenant"), table_name="trainings", schema="events")
    op.drop_table("trainings", schema="events")
