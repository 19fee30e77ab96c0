"""Mail other services ask the gateway to send to people (it alone knows addresses).

The events service publishes `events.mail.requested` with person ids; this handler,
inside the consumer's transaction (with the inbox claim), turns it into rows of the mail
outbox, so a redelivered request never mails twice and a rolled-back one never mails.
People who are not active (invited, deactivated) get nothing.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.mail import queue_mail
from services.gateway.repository import PeopleRepository
from shared.contracts import events as contract
from shared.messaging.envelope import Envelope

FOOTER = (
    "\n\n--\nSent through Clusterbridge because you registered for this training. "
    "Reply to the organiser, not to this address."
)


async def apply(session: AsyncSession, envelope: Envelope) -> None:
    request = envelope.payload(contract.PeopleMailRequested)
    people = await PeopleRepository(session).active_among(list(dict.fromkeys(request.person_ids)))
    for person in people:
        queue_mail(session, person.email, request.subject[:300], request.body + FOOTER)
