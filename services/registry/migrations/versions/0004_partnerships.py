"""Strategic cluster partnerships: members with consent, strategy versions, activities

Revision ID: 0004_partnerships
Revises: 0003_observatory
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.migration_ops import ANY_TENANT, grant_tables, tenant_is, tenant_wall

revision: str = "0004_partnerships"
down_revision: str | None = "0003_observatory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "registry"


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "partnerships",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("lead_cluster_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("target_markets", sa.ARRAY(sa.String(length=2)), nullable=False),
        sa.Column("competences", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("min_countries", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"], [f"{S}.tenants.code"], name=op.f("fk_partnerships_tenant_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["lead_cluster_id"],
            [f"{S}.clusters.id"],
            name=op.f("fk_partnerships_lead_cluster_id_clusters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnerships")),
        schema=S,
    )
    op.create_index(op.f("ix_registry_partnerships_tenant"), "partnerships", ["tenant"], schema=S)
    op.create_index(
        op.f("ix_registry_partnerships_lead_cluster_id"),
        "partnerships",
        ["lead_cluster_id"],
        schema=S,
    )
    op.create_index(
        "ix_registry_partnerships_order", "partnerships", ["created_at", "id"], schema=S
    )
    op.create_table(
        "partnership_members",
        sa.Column("partnership_id", sa.UUID(), nullable=False),
        sa.Column("cluster_id", sa.UUID(), nullable=False),
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("lead_tenant", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("lead", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            [f"{S}.partnerships.id"],
            name=op.f("fk_partnership_members_partnership_id_partnerships"),
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            [f"{S}.clusters.id"],
            name=op.f("fk_partnership_members_cluster_id_clusters"),
        ),
        sa.PrimaryKeyConstraint(
            "partnership_id", "cluster_id", name=op.f("pk_partnership_members")
        ),
        schema=S,
    )
    op.create_index(
        "ix_registry_partnership_members_cluster", "partnership_members", ["cluster_id"], schema=S
    )
    op.create_table(
        "partnership_strategy_versions",
        sa.Column("partnership_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("cluster_id", sa.UUID(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            [f"{S}.partnerships.id"],
            name=op.f("fk_partnership_strategy_versions_partnership_id_partnerships"),
        ),
        sa.PrimaryKeyConstraint(
            "partnership_id", "version", name=op.f("pk_partnership_strategy_versions")
        ),
        schema=S,
    )
    op.create_table(
        "partnership_activities",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partnership_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("event_id", sa.UUID(), nullable=True),
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("cluster_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            [f"{S}.partnerships.id"],
            name=op.f("fk_partnership_activities_partnership_id_partnerships"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnership_activities")),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_partnership_activities_dates")),
        schema=S,
    )
    op.create_index(
        op.f("ix_registry_partnership_activities_partnership_id"),
        "partnership_activities",
        ["partnership_id"],
        schema=S,
    )

    # Partnership pages are public; each row is written only by the tenant it speaks
    # for: the lead's tenant creates and invites, a member's own tenant answers, an
    # author's tenant adds strategy versions and activities ('*' is the operator).
    def wall(table: str, insert: str, update: str) -> None:
        operator = f"({ANY_TENANT})"
        tenant_wall(S, table, read="(true)", write=update, insert=insert, delete=operator)

    wall("partnerships", tenant_is("tenant"), tenant_is("tenant"))
    wall("partnership_members", tenant_is("lead_tenant"), tenant_is("tenant"))
    # Versions are history: never updated (only the operator could).
    wall("partnership_strategy_versions", tenant_is("tenant"), f"({ANY_TENANT})")
    wall("partnership_activities", tenant_is("tenant"), tenant_is("tenant"))
    grant_tables(
        S,
        "partnerships",
        "partnership_members",
        "partnership_strategy_versions",
        "partnership_activities",
    )


def downgrade() -> None:
    op.drop_table("partnership_activities", schema=S)
    op.drop_table("partnership_strategy_versions", schema=S)
    op.drop_table("partnership_members", schema=S)
    op.drop_table("partnerships", schema=S)
