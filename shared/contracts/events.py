"""The events service's facts: events, meeting requests, schedules, meetings.

Meeting-request messages are private to the parties and never travel on the bus.
"""

from __future__ import annotations

import uuid

from pydantic import ConfigDict, Field

from shared.contracts.base import Payload

STREAM = "EVENTS"
SUBJECTS = ("events.>",)

EVENT_CREATED = "events.event.created"
EVENT_STATUS_CHANGED = "events.event.status_changed"
PARTICIPANT_INVITED = "events.participant.invited"
PARTICIPANT_JOINED = "events.participant.joined"
PARTICIPANT_DECLINED = "events.participant.declined"
REQUEST_SENT = "events.request.sent"
REQUEST_ACCEPTED = "events.request.accepted"
REQUEST_DECLINED = "events.request.declined"
REQUEST_CANCELLED = "events.request.cancelled"
REQUEST_EXPIRED = "events.request.expired"
SCHEDULE_PUBLISHED = "events.schedule.published"
MEETING_CANCELLED = "events.meeting.cancelled"
TRAINING_CREATED = "events.training.created"
# One subject per change of a person's seat: registered, waiting, promoted (moved up
# from the waiting list), cancelled, attended.
TRAINING_REGISTRATION = "events.training.registration"
# Mail the gateway sends to people (it alone knows their addresses): organisers'
# messages to participants, and "you have a seat" when the waiting list moves up.
PEOPLE_MAIL_REQUESTED = "events.mail.requested"


class EventFact(Payload):
    id: uuid.UUID
    tenant: str
    title: str
    status: str
    timezone: str
    version: int


class EventStatusChanged(EventFact):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # "from" is a Python keyword: from_status on the model, "from" on the wire.
    from_status: str = Field(alias="from")
    to: str


class ParticipantFact(Payload):
    event_id: uuid.UUID
    cluster_id: uuid.UUID
    tenant: str  # the cluster's tenant
    organiser_tenant: str
    status: str


class RequestFact(Payload):
    id: uuid.UUID
    event_id: uuid.UUID
    sender: uuid.UUID
    receiver: uuid.UUID
    sender_tenant: str
    receiver_tenant: str
    priority: str
    status: str


class MeetingCancelled(Payload):
    event_id: uuid.UUID
    meeting_id: uuid.UUID
    slot: int
    reason: str | None = None
    sender_tenant: str | None = None
    receiver_tenant: str | None = None


class SchedulePublished(Payload):
    event_id: uuid.UUID
    schedule_id: uuid.UUID
    meetings: int
    unplaced: int


class TrainingFact(Payload):
    id: uuid.UUID
    tenant: str  # the organiser
    title: str
    capacity: int
    version: int


class TrainingRegistrationFact(Payload):
    id: uuid.UUID
    training_id: uuid.UUID
    person_id: uuid.UUID
    person_tenant: str
    organiser_tenant: str
    # registered | waiting | promoted | cancelled | attended
    change: str


class PeopleMailRequested(Payload):
    """Mail to each of `person_ids` (people of any tenant), sent by the gateway."""

    person_ids: list[uuid.UUID]
    subject: str
    body: str
    reason: str  # e.g. "training-message", "training-promoted"
    reference: uuid.UUID | None = None  # what it is about (a training id)
