"""Strategic cluster partnerships: members with consent, strategy versions, activities

Revision ID: 0004_partnerships
Revises: 0003_observatory
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

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
    any_ = "current_setting('app.tenant', true) = '*'"

    def mine(column: str) -> str:
        return f"({column} = current_setting('app.tenant', true) OR {any_})"

    def wall(table: str, insert: str, update: str) -> None:
        op.execute(f"ALTER TABLE {S}.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {S}.{table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {table}_read ON {S}.{table} FOR SELECT USING (true)")
        op.execute(f"CREATE POLICY {table}_insert ON {S}.{table} FOR INSERT WITH CHECK {insert}")
        op.execute(
            f"CREATE POLICY {table}_update ON {S}.{table} FOR UPDATE "
            f"USING {update} WITH CHECK {update}"
        )
        op.execute(f"CREATE POLICY {table}_delete ON {S}.{table} FOR DELETE USING ({any_})")

    wall("partnerships", mine("tenant"), mine("tenant"))
    wall("partnership_members", mine("lead_tenant"), mine("tenant"))
    # Versions are history: never updated (only the operator could).
    wall("partnership_strategy_versions", mine("tenant"), f"({any_})")
    wall("partnership_activities", mine("tenant"), mine("tenant"))
    for table in (
        "partnerships",
        "partnership_members",
        "partnership_strategy_versions",
        "partnership_activities",
    ):
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.{table} TO clusterbridge_app")


def downgrade() -> None:
    op.drop_table("partnership_activities", schema=S)
    op.drop_table("partnership_strategy_versions", schema=S)
    op.drop_table("partnership_members", schema=S)
    op.drop_table("partnerships", schema=S)
