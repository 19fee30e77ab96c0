"""Creating, changing and deleting cluster profiles, each change announced via the outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import labels, messaging, regions
from services.registry.models import Cluster, Tenant
from services.registry.presenting import public_fields
from services.registry.repository import ClusterRepository, PartnershipRepository
from services.registry.schemas import ClusterFields, ClusterPatch
from shared.identity import Caller
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
            level, valid_until, issuer, benchmarked_on = labels.state_from(value)
            cluster.label_level = level
            cluster.label_valid_until = valid_until
            cluster.label_issuer = issuer
            cluster.label_benchmarked_on = benchmarked_on
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


def _check_label_right(cluster: Cluster | None, changes: dict[str, Any], may_label: bool) -> None:
    if may_label or "label" not in changes:
        return
    before = labels.state_of(cluster) if cluster is not None else labels.state_from(None)
    if labels.state_from(changes["label"]) != before:
        raise labels.refuse()


def new_cluster(tenant: Tenant, fields: ClusterFields, *, may_label: bool) -> Cluster:
    """A new profile; a label in it needs the right to set labels (`labels.may_set`)."""
    _check_country(tenant, fields.country)
    regions.check_in_country(fields.region_code, fields.country)
    _check_label_right(None, fields.model_dump(include={"label"}, mode="python"), may_label)
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
    d["region_text"] = cluster.region
    return d


def apply_changes(
    tenant: Tenant, cluster: Cluster, changes: dict[str, Any], *, may_label: bool
) -> bool:
    """Apply field changes; returns False when nothing actually changed. Refused before
    anything is assigned if it would change the label without the right to."""
    before = _comparable(cluster)
    if changes.get("country") is not None:
        _check_country(tenant, changes["country"])
    regions.check_in_country(
        changes.get("region_code", cluster.region_code), changes.get("country") or cluster.country
    )
    _check_label_right(cluster, changes, may_label)
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


async def create(
    session: AsyncSession, tenant: Tenant, fields: ClusterFields, caller: Caller
) -> Cluster:
    repo = ClusterRepository(session)
    if fields.external_id and await repo.external_id_taken(tenant.code, fields.external_id):
        raise Problem(
            409,
            f"A cluster with external_id '{fields.external_id}' already exists in this tenant.",
            slug="duplicate-external-id",
            field="external_id",
        )
    cluster = new_cluster(tenant, fields, may_label=labels.may_set(caller))
    repo.add(cluster)
    await session.flush()
    if cluster.label_level != "none":
        labels.record(session, cluster, labels.recorded_by(caller))
    messaging.announce_upsert(session, cluster)
    return cluster


async def change(
    session: AsyncSession, tenant: Tenant, cluster: Cluster, changes: dict[str, Any], caller: Caller
) -> bool:
    """Apply changes, keep the label history and announce the new version."""
    label_before = labels.state_of(cluster)
    if not apply_changes(tenant, cluster, changes, may_label=labels.may_set(caller)):
        return False
    await session.flush()
    if labels.state_of(cluster) != label_before:
        labels.record(session, cluster, labels.recorded_by(caller))
    messaging.announce_upsert(session, cluster)
    return True


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
