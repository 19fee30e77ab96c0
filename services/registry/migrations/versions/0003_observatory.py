"""Regions as ISO 3166-2 codes, labels with issuer and history, self-assessments.

Revision ID: 0003_observatory
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.migration_ops import grant_tables, tenant_is, tenant_wall

revision: str = "0003_observatory"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "registry"
OWN = tenant_is("tenant")


def _walls(table: str) -> None:
    # Readable by every tenant (label history is part of the public profile; peers'
    # assessments feed percentiles, and the API never returns another cluster's row);
    # written only within one's own tenant.
    tenant_wall(SCHEMA, table, read="(true)", write=OWN)
    grant_tables(SCHEMA, table)


def upgrade() -> None:
    op.add_column("clusters", sa.Column("region_code", sa.String(6)), schema=SCHEMA)
    op.add_column("clusters", sa.Column("label_issuer", sa.String(200)), schema=SCHEMA)
    op.add_column("clusters", sa.Column("label_benchmarked_on", sa.Date()), schema=SCHEMA)
    op.create_index(
        op.f("ix_registry_clusters_region_code"), "clusters", ["region_code"], schema=SCHEMA
    )
    # The observatory's aggregates read only these columns: an index-only scan of this
    # narrow index avoids reading the wide profile rows (descriptions, search vectors).
    op.execute(
        "CREATE INDEX ix_registry_clusters_observatory ON registry.clusters (country) "
        "INCLUDE (region_code, ecosystems, members_smes, members_large_firms, "
        "members_research_education, members_other, label_level, label_valid_until)"
    )
    op.create_table(
        "label_awards",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("cluster_id", sa.UUID(), nullable=False),
        sa.Column("tenant", sa.String(16), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("issuer", sa.String(200), nullable=True),
        sa.Column("benchmarked_on", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.String(80), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["registry.clusters.id"],
            name=op.f("fk_label_awards_cluster_id_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_awards")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_registry_label_awards_cluster",
        "label_awards",
        ["cluster_id", "recorded_at"],
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_registry_label_awards_recorded_at"), "label_awards", ["recorded_at"], schema=SCHEMA
    )
    op.create_table(
        "self_assessments",
        sa.Column("cluster_id", sa.UUID(), nullable=False),
        sa.Column("tenant", sa.String(16), nullable=False),
        sa.Column("reference_year", sa.Integer(), nullable=False),
        sa.Column("staff_fte", sa.Float(), nullable=False),
        sa.Column("budget_eur", sa.Float(), nullable=False),
        sa.Column("private_funding_pct", sa.Float(), nullable=False),
        sa.Column("international_members_pct", sa.Float(), nullable=False),
        sa.Column("services_offered", sa.Integer(), nullable=False),
        sa.Column("projects_2y", sa.Integer(), nullable=False),
        sa.Column("cooperation_agreements_2y", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["registry.clusters.id"],
            name=op.f("fk_self_assessments_cluster_id_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cluster_id", name=op.f("pk_self_assessments")),
        schema=SCHEMA,
    )
    _walls("label_awards")
    _walls("self_assessments")
    # Profiles labelled before there was a history get one entry, so history and
    # trends start from what the registry already knew.
    op.execute(
        "INSERT INTO registry.label_awards (id, cluster_id, tenant, level, valid_until, "
        "recorded_by, recorded_at) SELECT gen_random_uuid(), id, tenant, label_level, "
        "label_valid_until, 'migration', updated_at FROM registry.clusters "
        "WHERE label_level <> 'none'"
    )


def downgrade() -> None:
    op.drop_table("self_assessments", schema=SCHEMA)
    op.drop_table("label_awards", schema=SCHEMA)
    op.execute("DROP INDEX IF EXISTS registry.ix_registry_clusters_observatory")
    op.drop_index(op.f("ix_registry_clusters_region_code"), table_name="clusters", schema=SCHEMA)
    op.drop_column("clusters", "label_benchmarked_on", schema=SCHEMA)
    op.drop_column("clusters", "label_issuer", schema=SCHEMA)
    op.drop_column("clusters", "region_code", schema=SCHEMA)
