"""Creating, changing and deleting cluster profiles, each change announced via the outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import messaging
from services.registry.models import Cluster, Tenant
from services.registry.presenting import public_fields
from services.registry.repository import ClusterRepository, PartnershipRepository
from services.registry.schemas import ClusterFields, ClusterPatch
from shared.problems import Problem


def _check_country(tenant: Tenant, country: str) -> None:
    if country not in tenant.countries:
        raise Problem(
            422,
            f"Country {country} is not one of tenant '{tenant.code}''s countries.",
            field="country",
        )


def _assign(cluster: Cluster, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if key == "members":
            m = value or {}
            cluster.members_smes = m.get("smes", 0)
            cluster.members_large_firms = m.get("large_firms", 0)
            cluster.members_research_education = m.get("research_education", 0)
            cluster.members_other = m.get("other", 0)
        elif key == "label":
            lab = value or {}
            cluster.label_level = str(lab.get("level") or "none")
            cluster.label_valid_until = lab.get("valid_until")
        elif key == "website":
            cluster.website = str(value) if value is not None else None
        elif key == "description":
            cluster.description = value or ""
        elif key in {
            "languages", "ecosystems", "nace_codes", "competences",
            "technologies", "offers", "needs", "target_countries",
        }:  # fmt: skip
            setattr(cluster, key, list(value or []))
        else:
            setattr(cluster, key, value)


def new_cluster(tenant: Tenant, fields: ClusterFields) -> Cluster:
    _check_country(tenant, fields.country)
    now = datetime.now(UTC)
    cluster = Cluster(
        id=uuid.uuid4(), tenant=tenant.code, version=1, verified=False,
        created_at=now, updated_at=now,
    )  # fmt: skip
    _assign(cluster, fields.model_dump(exclude={"tenant"}, mode="python"))
    return cluster


def _comparable(cluster: Cluster) -> dict[str, Any]:
    d = public_fields(cluster)
    for k in ("version", "created_at", "updated_at"):
        d.pop(k)
    d["contact_email"] = cluster.contact_email
    return d


def apply_changes(tenant: Tenant, cluster: Cluster, changes: dict[str, Any]) -> bool:
    """Apply field changes; returns False when nothing actually changed."""
    before = _comparable(cluster)
    if changes.get("country") is not None:
        _check_country(tenant, changes["country"])
    _assign(cluster, changes)
    if _comparable(cluster) == before:
        return False
    cluster.version += 1
    cluster.updated_at = datetime.now(UTC)
    return True


def patch_changes(patch: ClusterPatch) -> dict[str, Any]:
    changes = patch.model_dump(exclude_unset=True, mode="python")
    if "name" in changes and changes["name"] is None:
        raise Problem(422, "name cannot be cleared.", field="name")
    if "country" in changes and changes["country"] is None:
        raise Problem(422, "country cannot be cleared.", field="country")
    if "verified" in changes and changes["verified"] is None:
        raise Problem(422, "verified must be true or false.", field="verified")
    return changes


async def create(session: AsyncSession, tenant: Tenant, fields: ClusterFields) -> Cluster:
    repo = ClusterRepository(session)
    if fields.external_id and await repo.external_id_taken(tenant.code, fields.external_id):
        raise Problem(
            409,
            f"A cluster with external_id '{fields.external_id}' already exists in this tenant.",
            slug="duplicate-external-id",
            field="external_id",
        )
    cluster = new_cluster(tenant, fields)
    repo.add(cluster)
    await session.flush()
    messaging.announce_upsert(session, cluster)
    return cluster


async def delete(session: AsyncSession, cluster: Cluster) -> None:
    # A partnership's members and their strategy history name the cluster: deleting it
    # would rewrite what the other members agreed to.
    partnerships = await PartnershipRepository(session).names_with_member(cluster.id)
    if partnerships:
        raise Problem(
            409,
            "This cluster takes part in partnerships and cannot be deleted: "
            + ", ".join(partnerships[:5])
            + ("" if len(partnerships) <= 5 else ", ..."),
            slug="in-partnership",
        )
    await ClusterRepository(session).delete(cluster)
    messaging.announce_delete(session, cluster)
