"""Strategic cluster partnerships: clusters of several countries who combine competences
in an emerging field and go international together.

Who may do what:
- the lead cluster's manager (or its tenant's agency) creates one, invites more
  clusters and changes its description, field, markets and competences;
- each invited cluster joins only by its own manager's consent (accept or decline);
- accepted members edit the joint strategy (versioned; If-Match) and add activities.

"Formed" is derived, never stored: members of at least `min_countries` countries have
accepted. Every change of one partnership's membership or strategy runs under the
partnership's lock, so concurrent answers announce "formed" exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import messaging
from services.registry.models import (
    Cluster,
    Partnership,
    PartnershipActivity,
    PartnershipMember,
    StrategyVersion,
)
from services.registry.repository import PartnershipRepository
from services.registry.schemas import (
    ActivityIn,
    ActivityOut,
    MemberOut,
    PartnershipCreate,
    PartnershipOut,
    PartnershipPatch,
    StrategyOut,
)
from shared.contracts import registry as contract
from shared.identity import Caller
from shared.problems import Problem, not_found

INVITED, ACCEPTED, DECLINED = "invited", "accepted", "declined"


def countries_accepted(members: Sequence[PartnershipMember]) -> list[str]:
    return sorted({m.country for m in members if m.status == ACCEPTED})


def is_formed(partnership: Partnership, members: Sequence[PartnershipMember]) -> bool:
    return len(countries_accepted(members)) >= partnership.min_countries


def present(
    p: Partnership,
    members: Sequence[PartnershipMember],
    names: dict[uuid.UUID, str],
    strategy_version: int,
) -> PartnershipOut:
    accepted = countries_accepted(members)
    return PartnershipOut(
        id=p.id,
        tenant=p.tenant,
        lead_cluster_id=p.lead_cluster_id,
        name=p.name,
        field=p.field,
        description=p.description,
        target_markets=list(p.target_markets),
        competences=list(p.competences),
        source=p.source,
        members=[
            MemberOut(
                cluster_id=m.cluster_id,
                name=names.get(m.cluster_id, "(deleted cluster)"),
                tenant=m.tenant,
                country=m.country,
                lead=m.lead,
                status=m.status,
                invited_at=m.invited_at,
                answered_at=m.answered_at,
            )
            for m in members
        ],
        countries_accepted=accepted,
        min_countries=p.min_countries,
        formed=len(accepted) >= p.min_countries,
        strategy_version=strategy_version,
        created_at=p.created_at,
    )


async def views(session: AsyncSession, rows: Sequence[Partnership]) -> list[PartnershipOut]:
    """Partnerships as readers see them, with members and strategy version, batched."""
    repo = PartnershipRepository(session)
    ids = [p.id for p in rows]
    members = await repo.members(ids)
    names = {c.id: c.name for c in (await repo.clusters([m.cluster_id for m in members])).values()}
    versions = await repo.strategy_versions(ids)
    by_partnership: dict[uuid.UUID, list[PartnershipMember]] = {i: [] for i in ids}
    for m in members:
        by_partnership[m.partnership_id].append(m)
    return [present(p, by_partnership[p.id], names, versions.get(p.id, 0)) for p in rows]


async def view(session: AsyncSession, p: Partnership) -> PartnershipOut:
    return (await views(session, [p]))[0]


async def _announce(
    session: AsyncSession,
    subject: str,
    p: Partnership,
    *,
    cluster_id: uuid.UUID | None = None,
    activity_id: uuid.UUID | None = None,
    tenant: str | None = None,
) -> None:
    await session.flush()
    out = await view(session, p)
    fact = contract.PartnershipFact(
        id=p.id,
        tenant=p.tenant,
        lead_cluster_id=p.lead_cluster_id,
        name=p.name,
        field=p.field,
        target_markets=out.target_markets,
        competences=out.competences,
        members=[
            contract.PartnershipMemberFact(
                cluster_id=m.cluster_id,
                name=m.name,
                tenant=m.tenant,
                country=m.country,
                status=m.status,
                lead=m.lead,
            )
            for m in out.members
        ],
        countries_accepted=out.countries_accepted,
        formed=out.formed,
        strategy_version=out.strategy_version,
        cluster_id=cluster_id,
        activity_id=activity_id,
    )
    # The outbox row carries the tenant whose transaction wrote it.
    messaging.announce_partnership(session, subject, tenant or p.tenant, fact)


def _member(p: Partnership, cluster: Cluster, *, lead: bool, now: datetime) -> PartnershipMember:
    return PartnershipMember(
        partnership_id=p.id, cluster_id=cluster.id, tenant=cluster.tenant, lead_tenant=p.tenant,
        country=cluster.country, lead=lead, status=ACCEPTED if lead else INVITED,
        invited_at=now, answered_at=now if lead else None,
    )  # fmt: skip


async def create(
    session: AsyncSession, caller: Caller, body: PartnershipCreate, min_countries: int
) -> Partnership:
    repo = PartnershipRepository(session)
    wanted = list(body.members)
    competences = list(dict.fromkeys(body.competences))
    source = "scratch"
    if body.consortium is not None:
        source = "consortium"
        wanted += [m.id for m in body.consortium.members]
        if not competences:
            competences = list(
                dict.fromkeys(c.competence for c in body.consortium.coverage if c.covered)
            )
    invitees = [c for c in dict.fromkeys(wanted) if c != body.lead_cluster_id]
    found = await repo.clusters([body.lead_cluster_id, *invitees])
    lead = found.get(body.lead_cluster_id)
    if lead is None:
        raise Problem(422, "The lead cluster does not exist.", field="lead_cluster_id")
    # Only the lead cluster's own manager (or its agency) speaks for it.
    caller.require_cluster(lead.tenant, lead.id)
    missing = [str(c) for c in invitees if c not in found]
    if missing:
        raise Problem(422, f"No such cluster: {', '.join(missing)}.", field="members")
    countries = sorted({lead.country, *(found[c].country for c in invitees)})
    if len(countries) < min_countries:
        raise Problem(
            422,
            f"A strategic partnership needs clusters from at least {min_countries} countries; "
            f"these are from {len(countries)} ({', '.join(countries)}).",
            field="members",
            slug="too-few-countries",
        )
    now = datetime.now(UTC)
    p = Partnership(
        id=uuid.uuid4(), tenant=lead.tenant, lead_cluster_id=lead.id, name=body.name,
        field=body.field, description=body.description, target_markets=list(body.target_markets),
        competences=competences, min_countries=min_countries, source=source, created_at=now,
    )  # fmt: skip
    repo.add(p)
    await session.flush()
    repo.add(_member(p, lead, lead=True, now=now))
    for c in invitees:
        repo.add(_member(p, found[c], lead=False, now=now))
    if body.strategy:
        repo.add(
            StrategyVersion(
                partnership_id=p.id, version=1, text=body.strategy, tenant=caller.tenant,
                cluster_id=lead.id, person_id=caller.person_id, created_at=now,
            )
        )  # fmt: skip
    await _announce(session, contract.PARTNERSHIP_CREATED, p, tenant=caller.tenant)
    return p


async def load(session: AsyncSession, partnership_id: uuid.UUID) -> Partnership:
    p = await PartnershipRepository(session).get(partnership_id)
    if p is None:
        raise not_found("partnership")
    return p


def require_lead(caller: Caller, p: Partnership) -> None:
    if not caller.acts_for_cluster(p.tenant, p.lead_cluster_id):
        raise Problem(
            403,
            "Only the lead cluster's manager changes this partnership.",
            slug="not-partnership-lead",
        )


async def invite(
    session: AsyncSession, caller: Caller, p: Partnership, cluster_id: uuid.UUID
) -> PartnershipMember:
    require_lead(caller, p)
    repo = PartnershipRepository(session)
    await repo.lock(p.id)
    cluster = (await repo.clusters([cluster_id])).get(cluster_id)
    if cluster is None:
        raise Problem(422, "No such cluster.", field="cluster_id")
    if await repo.member(p.id, cluster_id) is not None:
        raise Problem(409, "This cluster is already invited.", field="cluster_id")
    member = _member(p, cluster, lead=False, now=datetime.now(UTC))
    repo.add(member)
    await _announce(
        session, contract.PARTNERSHIP_MEMBER_INVITED, p, cluster_id=cluster_id, tenant=caller.tenant
    )
    return member


async def answer(
    session: AsyncSession, caller: Caller, p: Partnership, cluster_id: uuid.UUID, accept: bool
) -> PartnershipMember:
    """The invited cluster's own manager (or agency) accepts or declines."""
    repo = PartnershipRepository(session)
    member = await repo.member(p.id, cluster_id)
    if member is None:
        raise not_found("invitation")
    # Consent is the member's own: nobody else, not even the lead, answers for it.
    caller.require_cluster(member.tenant, member.cluster_id)
    await repo.lock(p.id)
    await session.refresh(member)
    if member.lead:
        raise Problem(409, "The lead cluster is a member by creating the partnership.")
    if member.status != INVITED:
        raise Problem(
            409, f"This invitation was already answered ({member.status}).", slug="answered"
        )
    before = is_formed(p, await repo.members([p.id]))
    member.status = ACCEPTED if accept else DECLINED
    member.answered_at = datetime.now(UTC)
    await session.flush()
    await _announce(
        session,
        contract.PARTNERSHIP_MEMBER_ANSWERED,
        p,
        cluster_id=cluster_id,
        tenant=caller.tenant,
    )
    if not before and is_formed(p, await repo.members([p.id])):
        await _announce(session, contract.PARTNERSHIP_FORMED, p, tenant=caller.tenant)
    return member


async def patch(
    session: AsyncSession, caller: Caller, p: Partnership, body: PartnershipPatch
) -> None:
    require_lead(caller, p)
    changes = body.model_dump(exclude_unset=True)
    for key in ("name", "field"):
        if key in changes and changes[key] is None:
            raise Problem(422, f"{key} cannot be cleared.", field=key)
    for key, value in changes.items():
        if key in ("target_markets", "competences"):
            value = list(dict.fromkeys(value or []))
        elif key == "description":
            value = value or ""
        setattr(p, key, value)
    if changes:
        await _announce(session, contract.PARTNERSHIP_CHANGED, p, tenant=caller.tenant)


async def speaking_member(
    session: AsyncSession, caller: Caller, p: Partnership, cluster_id: uuid.UUID | None
) -> PartnershipMember:
    """The accepted member the caller speaks for (the one named, or the first one)."""
    members = await PartnershipRepository(session).members([p.id])
    mine = [
        m
        for m in members
        if m.status == ACCEPTED
        and caller.acts_for_cluster(m.tenant, m.cluster_id)
        and (cluster_id is None or m.cluster_id == cluster_id)
    ]
    if not mine:
        raise Problem(
            403,
            "Only the manager of an accepted member cluster does this.",
            field="cluster_id" if cluster_id else None,
            slug="not-a-member",
        )
    mine.sort(key=lambda m: (not m.lead, str(m.cluster_id)))
    return mine[0]


def strategy_out(p: Partnership, row: StrategyVersion | None) -> StrategyOut:
    if row is None:
        return StrategyOut(
            partnership_id=p.id, version=0, text="", cluster_id=None, created_at=None
        )
    return StrategyOut(
        partnership_id=p.id,
        version=row.version,
        text=row.text,
        cluster_id=row.cluster_id,
        created_at=row.created_at,
    )


def strategy_etag(p: Partnership, version: int) -> str:
    return f'"{p.id.hex}.s{version}"'


async def edit_strategy(
    session: AsyncSession,
    caller: Caller,
    p: Partnership,
    text: str,
    cluster_id: uuid.UUID | None,
    if_match: str | None,
) -> StrategyVersion:
    """A new version of the joint strategy, if the editor read the current one."""
    member = await speaking_member(session, caller, p, cluster_id)
    if not if_match:
        raise Problem(
            428, "Send If-Match with the strategy's ETag, so no edit is lost.", field="If-Match"
        )
    repo = PartnershipRepository(session)
    await repo.lock(p.id)
    current = await repo.strategy(p.id)
    version = current.version if current else 0
    tags = {t.strip() for t in if_match.split(",")}
    if "*" not in tags and strategy_etag(p, version) not in tags:
        raise Problem(
            412,
            "The strategy changed since you read it; read it again and merge your edit.",
            field="If-Match",
        )
    row = StrategyVersion(
        partnership_id=p.id, version=version + 1, text=text, tenant=caller.tenant,
        cluster_id=member.cluster_id, person_id=caller.person_id, created_at=datetime.now(UTC),
    )  # fmt: skip
    repo.add(row)
    await _announce(
        session,
        contract.PARTNERSHIP_STRATEGY_CHANGED,
        p,
        cluster_id=member.cluster_id,
        tenant=caller.tenant,
    )
    return row


def activity_out(a: PartnershipActivity) -> ActivityOut:
    return ActivityOut(
        id=a.id,
        partnership_id=a.partnership_id,
        kind=a.kind,
        title=a.title,
        description=a.description,
        starts_on=a.starts_on,
        ends_on=a.ends_on,
        country=a.country,
        event_id=a.event_id,
        cluster_id=a.cluster_id,
        created_at=a.created_at,
    )


async def add_activity(
    session: AsyncSession, caller: Caller, p: Partnership, body: ActivityIn
) -> PartnershipActivity:
    member = await speaking_member(session, caller, p, body.cluster_id)
    if body.ends_on < body.starts_on:
        raise Problem(422, "An activity ends on or after the day it starts.", field="ends_on")
    if body.event_id is not None and body.kind != "event":
        raise Problem(422, "Only an activity of kind 'event' names an event.", field="event_id")
    row = PartnershipActivity(
        id=uuid.uuid4(), partnership_id=p.id, kind=body.kind, title=body.title,
        description=body.description, starts_on=body.starts_on, ends_on=body.ends_on,
        country=body.country, event_id=body.event_id, tenant=caller.tenant,
        cluster_id=member.cluster_id, created_at=datetime.now(UTC),
    )  # fmt: skip
    PartnershipRepository(session).add(row)
    await _announce(
        session,
        contract.PARTNERSHIP_ACTIVITY_ADDED,
        p,
        cluster_id=member.cluster_id,
        activity_id=row.id,
        tenant=caller.tenant,
    )
    return row
