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
