"""All SQL of the matching service: its copy of public profiles and their embeddings,
and feedback."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.engine.embeddings import ProfileVectors
from services.matching.models import Feedback, ProfileEmbedding, ProfileRow


class ProfileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_if_newer(
        self,
        cluster_id: uuid.UUID,
        tenant: str,
        version: int,
        deleted: bool,
        data: dict[str, Any],
    ) -> bool:
        """Store the profile unless a version at least as new is stored; True if stored."""
        stmt = insert(ProfileRow).values(
            id=cluster_id,
            tenant=tenant,
            version=version,
            deleted=deleted,
            data=data,
            updated_at=datetime.now(UTC),
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[ProfileRow.id],
            set_={
                "tenant": stmt.excluded.tenant,
                "version": stmt.excluded.version,
                "deleted": stmt.excluded.deleted,
                "data": stmt.excluded.data,
                "updated_at": stmt.excluded.updated_at,
            },
            where=ProfileRow.version < stmt.excluded.version,
        ).returning(ProfileRow.id)
        return (await self.session.execute(upsert)).first() is not None

    async def live(self) -> Sequence[ProfileRow]:
        return (
            await self.session.scalars(select(ProfileRow).where(ProfileRow.deleted.is_(False)))
        ).all()

    async def versions(self) -> dict[str, int | None]:
        """Per cluster id, the version held (None for a deletion)."""
        rows = await self.session.execute(
            select(ProfileRow.id, ProfileRow.version, ProfileRow.deleted)
        )
        return {str(i): (None if deleted else version) for i, version, deleted in rows}

    async def live_except(self, keep: set[uuid.UUID]) -> Sequence[ProfileRow]:
        stmt = select(ProfileRow).where(ProfileRow.deleted.is_(False))
        if keep:
            stmt = stmt.where(ProfileRow.id.not_in(keep))
        return (await self.session.scalars(stmt)).all()


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, **values: Any) -> uuid.UUID:
        """A new judgement of a pair replaces the old one; returns the row's id."""
        stmt = insert(Feedback).values(id=uuid.uuid4(), **values)
        upsert = stmt.on_conflict_do_update(
            constraint="uq_feedback_tenant_cluster_id_other_id",
            set_={
                "relevant": stmt.excluded.relevant,
                "mode": stmt.excluded.mode,
                "rank": stmt.excluded.rank,
                "client_id": stmt.excluded.client_id,
                "created_at": stmt.excluded.created_at,
            },
        ).returning(Feedback.id)
        feedback_id: uuid.UUID = (await self.session.execute(upsert)).scalar_one()
        return feedback_id

    async def visible(self) -> Sequence[Feedback]:
        """Every judgement this transaction may see (row-level security: one tenant)."""
        return (await self.session.scalars(select(Feedback))).all()


class EmbeddingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, cluster_id: uuid.UUID, vectors: ProfileVectors, dim: int) -> None:
        """Store a profile's embeddings unless newer ones (by profile version) are stored."""
        parts = vectors.to_bytes()
        stmt = insert(ProfileEmbedding).values(
            id=cluster_id,
            version=vectors.version,
            model=vectors.model,
            dim=dim,
            updated_at=datetime.now(UTC),
            **parts,
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ProfileEmbedding.id],
                set_={
                    "version": stmt.excluded.version,
                    "model": stmt.excluded.model,
                    "dim": stmt.excluded.dim,
                    "updated_at": stmt.excluded.updated_at,
                    **{k: getattr(stmt.excluded, k) for k in parts},
                },
                where=(ProfileEmbedding.version <= stmt.excluded.version)
                | (ProfileEmbedding.model != stmt.excluded.model),
            )
        )

    async def delete(self, cluster_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(ProfileEmbedding).where(ProfileEmbedding.id == cluster_id)
        )

    async def of_model(self, model: str) -> dict[str, ProfileVectors]:
        """Every stored embedding of this model, by cluster id (unreadable rows skipped:
        the index recomputes them)."""
        rows = await self.session.execute(
            select(ProfileEmbedding).where(ProfileEmbedding.model == model)
        )
        out: dict[str, ProfileVectors] = {}
        for (r,) in rows:
            try:
                out[str(r.id)] = ProfileVectors.from_bytes(
                    r.model,
                    r.version,
                    r.dim,
                    {"profile": r.profile, "about": r.about, "needs": r.needs, "offers": r.offers},
                )
            except ValueError:
                continue
        return out

    async def count(self, model: str) -> int:
        stmt = (
            select(func.count())
            .select_from(ProfileEmbedding)
            .where(ProfileEmbedding.model == model)
        )
        return int((await self.session.execute(stmt)).scalar_one())
