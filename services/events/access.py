"""Who may do what: the organiser's tenant administers its event; an agency acts only
for its own clusters, and a cluster manager only for the clusters they manage; the
operator (admin) acts anywhere."""

from __future__ import annotations

import uuid

from services.events.lifecycle import Status
from services.events.models import Event, MeetingRequest, Participant
from shared.identity import Caller
from shared.problems import Problem, not_found

ORGANISE = "events:organise"
PARTICIPATE = "events:participate"
READ = "events:read"


def is_organiser(caller: Caller, event: Event) -> bool:
    """The organiser's tenant, as an agency key, or a person of it who organises (an
    organiser or an agency admin): a cluster manager of that tenant is not one."""
    if caller.is_admin:
        return True
    if caller.tenant != event.tenant:
        return False
    return not caller.is_person or caller.has(ORGANISE)


def may_see(caller: Caller, event: Event) -> bool:
    """An event is public once it opens for registration; a draft is its organiser's
    work in progress, seen only by its tenant (and the operator)."""
    return event.status != Status.DRAFT or caller.is_admin or caller.tenant == event.tenant


def require_organiser(caller: Caller, event: Event) -> None:
    # The event itself is public, so "not found" would be a lie: 403 says it plainly.
    if not is_organiser(caller, event):
        raise Problem(
            403, "Only the organiser's tenant administers this event.", slug="not-organiser"
        )
    caller.require(ORGANISE)


def speaks_for(caller: Caller, tenant: str, cluster_id: uuid.UUID) -> bool:
    """The caller acts for this cluster: its tenant's agency key or agency admin, or
    the person who manages that cluster."""
    return caller.acts_for_cluster(tenant, cluster_id)


def speaks_for_participant(caller: Caller, participant: Participant) -> bool:
    return speaks_for(caller, participant.tenant, participant.cluster_id)


def require_party(caller: Caller, participant: Participant) -> None:
    """The caller speaks for this participant's cluster."""
    caller.require_cluster(participant.tenant, participant.cluster_id)
    caller.require(PARTICIPATE)


def may_see_private(caller: Caller, event: Event, participant: Participant) -> bool:
    return is_organiser(caller, event) or speaks_for_participant(caller, participant)


def require_speaks_for(caller: Caller, event: Event, participant: Participant) -> None:
    """Changing a participant: its organiser or whoever speaks for the cluster.
    Participants are public, so anyone else is told plainly (403), not a false 404."""
    if not may_see_private(caller, event, participant):
        raise Problem(403, "An agency acts only for its own clusters.", slug="tenant-forbidden")


def require_private(caller: Caller, event: Event, participant: Participant, what: str) -> None:
    # Private details of another's participant do not exist for the caller.
    if not may_see_private(caller, event, participant):
        raise not_found(what)


def request_visible(caller: Caller, request: MeetingRequest) -> bool:
    """A request (and its message) is for its two sides and the organiser only."""
    if caller.is_admin:
        return True
    if caller.tenant == request.organiser_tenant and (not caller.is_person or caller.has(ORGANISE)):
        return True
    return speaks_for(caller, request.sender_tenant, request.sender_cluster) or speaks_for(
        caller, request.receiver_tenant, request.receiver_cluster
    )
