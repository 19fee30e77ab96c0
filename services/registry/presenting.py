"""A stored profile as readers see it: one shape for the API and for the registry's events.

`public_fields` is the one place that maps columns to the public profile; the API body
(`ClusterOut`) and the event payload (`ClusterPublic`, its base) are both built from it,
so they cannot drift apart.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.registry import labels, regions
from services.registry.models import Cluster
from services.registry.schemas import ClusterOut, LabelView
from shared.contracts.registry import ClusterPublic, LabelOut, MembersOut


def public_fields(c: Cluster) -> dict[str, Any]:
    return {
        "id": c.id,
        "tenant": c.tenant,
        "external_id": c.external_id,
        "name": c.name,
        "country": c.country,
        "region": regions.shown_region(c.region_code, c.region),
        "region_code": c.region_code,
        "city": c.city,
        "website": c.website,
        "description": c.description,
        "languages": list(c.languages),
        "ecosystems": list(c.ecosystems),
        "nace_codes": list(c.nace_codes),
        "competences": list(c.competences),
        "technologies": list(c.technologies),
        "offers": list(c.offers),
        "needs": list(c.needs),
        "target_countries": list(c.target_countries),
        "members": MembersOut(
            smes=c.members_smes,
            large_firms=c.members_large_firms,
            research_education=c.members_research_education,
            other=c.members_other,
        ),
        "label": LabelOut(
            level=c.label_level,
            valid_until=c.label_valid_until,
            issuer=c.label_issuer,
            benchmarked_on=c.label_benchmarked_on,
        ),
        "verified": c.verified,
        "version": c.version,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }


def public_profile(c: Cluster) -> ClusterPublic:
    return ClusterPublic(**public_fields(c))


def label_view(c: Cluster, on: date | None = None) -> LabelView:
    on = on or labels.today()
    return LabelView(
        level=c.label_level,
        valid_until=c.label_valid_until,
        issuer=c.label_issuer,
        benchmarked_on=c.label_benchmarked_on,
        status=labels.status(c.label_level, c.label_valid_until, on),
    )


def cluster_out(c: Cluster, *, with_contact: bool) -> ClusterOut:
    """The API body; the contact e-mail only for the owning tenant (left unset, not
    null, for everyone else, so it is absent from the JSON)."""
    fields = public_fields(c) | {"label": label_view(c)}
    if with_contact:
        return ClusterOut(**fields, contact_email=c.contact_email)
    return ClusterOut(**fields)
