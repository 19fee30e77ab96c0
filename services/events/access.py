"""Who may do what: the organiser's tenant administers its event; an agency acts only
for its own clusters; the operator (admin) acts anywhere."""

from __future__ import annotations

from services.events.models import Event, MeetingRequest, Participant
from shared.identity import Caller
from shared.problems import Problem, not_found

ORGANISE = "events:organise"
PARTICIPATE = "events:participate"
READ = "events:read"


def is_organiser(caller: Caller, event: Event) -> bool:
    return caller.is_admin or caller.tenant == event.tenant


def require_organiser(caller: Caller, event: Event) -> None:
    # The event itself is public, so "not found" would be a lie: 403 says it plainly.
    if not is_organiser(caller, event):
        raise Problem(
            403, "Only the organiser's tenant administers this event.", slug="not-organiser"
        )
    caller.require(ORGANISE)


def acts_for(caller: Caller, tenant: str) -> bool:
    return caller.is_admin or caller.tenant == tenant


def require_party(caller: Caller, participant: Participant) -> None:
    """The caller speaks for this participant's cluster (its own tenant's agency)."""
    if not acts_for(caller, participant.tenant):
        raise Problem(
            403, "An agency acts only for its own tenant's clusters.", slug="tenant-forbidden"
        )
    caller.require(PARTICIPATE)


def may_see_private(caller: Caller, event: Event, participant: Participant) -> bool:
    return is_organiser(caller, event) or acts_for(caller, participant.tenant)


def require_speaks_for(caller: Caller, event: Event, participant: Participant) -> None:
    """Changing a participant: its organiser or the cluster's own tenant. Participants
    are public, so anyone else is told plainly (403), not shown a false 404."""
    if not may_see_private(caller, event, participant):
        raise Problem(403, "An agency acts only for its own clusters.", slug="tenant-forbidden")


def require_private(caller: Caller, event: Event, participant: Participant, what: str) -> None:
    # Private details of another tenant's participant do not exist for the caller.
    if not may_see_private(caller, event, participant):
        raise not_found(what)


def request_visible(caller: Caller, request: MeetingRequest) -> bool:
    return caller.is_admin or caller.tenant in (
        request.organiser_tenant,
        request.sender_tenant,
        request.receiver_tenant,
    )
