"""Sentence embeddings of public profiles (public like the profiles: no row-level security).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 23:58:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "profile_embeddings",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("profile", sa.LargeBinary(), nullable=False),
        sa.Column("about", sa.LargeBinary(), nullable=False),
        sa.Column("needs", sa.LargeBinary(), nullable=False),
        sa.Column("offers", sa.LargeBinary(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_embeddings")),
        schema="matching",
    )
    op.execute(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON matching.profile_embeddings TO clusterbridge_app"
    )


def downgrade() -> None:
    op.drop_table("profile_embeddings", schema="matching")
