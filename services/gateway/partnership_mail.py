"""Invitations to strategic partnerships, mailed to whoever speaks for the invited
cluster (its managers; its tenant's agency admins if it has none).

The registry announces `registry.partnership.created` and `.member_invited` with the
partnership as it now is; only the gateway knows people, so it writes the mail, in the
consumer's transaction with the inbox claim (once, also on redelivery).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.mail import queue_mail
from services.gateway.repository import PeopleRepository
from shared.contracts import registry as contract
from shared.messaging.consumer import Handler
from shared.messaging.envelope import Envelope


def _body(fact: contract.PartnershipFact, member: contract.PartnershipMemberFact, url: str) -> str:
    lead = next((m for m in fact.members if m.lead), None)
    others = ", ".join(
        f"{m.name} ({m.country})" for m in fact.members if m.cluster_id != member.cluster_id
    )
    return (
        f"{member.name or 'Your cluster'} is invited to join the strategic partnership "
        f'"{fact.name}" in {fact.field}'
        + (f", led by {lead.name} ({lead.country})" if lead else "")
        + f".\n\nWith: {others or 'no one else yet'}.\n"
        + (f"Target markets: {', '.join(fact.target_markets)}.\n" if fact.target_markets else "")
        + f"\nThe partnership: {url}/v1/partnerships/{fact.id}\n"
        "It joins only if you accept: POST "
        f"{url}/v1/partnerships/{fact.id}/members/{member.cluster_id}/accept (or /decline)."
    )


def handler(public_url: str) -> Handler:
    url = public_url.rstrip("/")

    async def apply(session: AsyncSession, envelope: Envelope) -> None:
        if envelope.type == contract.PARTNERSHIP_CREATED:
            fact = envelope.payload(contract.PartnershipFact)
            invited = [m for m in fact.members if m.status == "invited"]
        elif envelope.type == contract.PARTNERSHIP_MEMBER_INVITED:
            fact = envelope.payload(contract.PartnershipFact)
            invited = [m for m in fact.members if m.cluster_id == fact.cluster_id]
        else:
            return  # other partnership changes are not mailed
        repo = PeopleRepository(session)
        for member in invited:
            for person in await repo.speaking_for(member.tenant, member.cluster_id):
                queue_mail(
                    session,
                    person.email,
                    f"Invitation to the partnership {fact.name}"[:300],
                    _body(fact, member, url),
                )

    return apply
