"""The life of an event: which status may follow which, and what each one allows."""

from __future__ import annotations

from enum import StrEnum

from shared.problems import Problem


class RequestStatus(StrEnum):
    """A meeting request's life: pending until answered or expired; an accepted one may
    still be cancelled by either side."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


OPEN_REQUESTS = frozenset({RequestStatus.PENDING, RequestStatus.ACCEPTED})


class ParticipantStatus(StrEnum):
    """A participant's consent: a cluster registered by another tenant's organiser is
    invited until its own tenant accepts; only registered participants meet."""

    INVITED = "invited"
    REGISTERED = "registered"
    DECLINED = "declined"


class Status(StrEnum):
    DRAFT = "draft"
    REGISTRATION = "registration"
    REQUESTS = "requests"
    SCHEDULING = "scheduling"
    PUBLISHED = "published"
    CLOSED = "closed"


# Going back one step is allowed where organisers need it (reopen registration, or
# requests after a look at a draft schedule); "published" is reached only by publishing
# a schedule, never by a bare transition.
_NEXT: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.REGISTRATION, Status.CLOSED}),
    Status.REGISTRATION: frozenset({Status.REQUESTS, Status.DRAFT, Status.CLOSED}),
    Status.REQUESTS: frozenset({Status.SCHEDULING, Status.REGISTRATION, Status.CLOSED}),
    Status.SCHEDULING: frozenset({Status.PUBLISHED, Status.REQUESTS, Status.CLOSED}),
    Status.PUBLISHED: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

# While these hold, the shape of the event (sessions, meeting length, tables) may change:
# once requests are being scheduled, slot numbers must stay put.
SHAPE_EDITABLE = frozenset({Status.DRAFT, Status.REGISTRATION, Status.REQUESTS})
# Requests may be sent and answered (late requests after publishing are re-scheduled).
REQUESTS_OPEN = frozenset({Status.REQUESTS, Status.SCHEDULING, Status.PUBLISHED})
# The organiser registers participants until the event is over.
ORGANISER_REGISTERS = frozenset(set(Status) - {Status.CLOSED})
SCHEDULABLE = frozenset({Status.SCHEDULING, Status.PUBLISHED})


def check_transition(current: str, target: Status) -> None:
    now = Status(current)
    if target not in _NEXT[now]:
        allowed = ", ".join(sorted(_NEXT[now])) or "none"
        raise Problem(
            409,
            f"An event in '{now}' cannot move to '{target}' (allowed: {allowed}).",
            field="status",
            slug="wrong-status",
        )


def require(current: str, allowed: frozenset[Status], action: str) -> None:
    if Status(current) not in allowed:
        raise Problem(
            409,
            f"Cannot {action} while the event is '{current}' "
            f"(possible in: {', '.join(sorted(allowed))}).",
            slug="wrong-status",
        )
