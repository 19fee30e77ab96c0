"""What the matching service publishes (feedback, on the MATCHING stream), what it
consumes (registry cluster events, into its projection and index), and the
`matching.suggest` request-reply it serves (services.matching.responder)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.index_follower import IndexFollower
from services.matching.live_index import LiveIndex
from services.matching.models import Inbox, Outbox
from services.matching.projection import apply_event
from shared.contracts import matching as contract
from shared.contracts import registry
from shared.messaging.consumer import DurableConsumer
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import record_event
from shared.runtime import AnyRuntime

PROFILES_CONSUMER = "matching-profiles"


def feedback_recorded(
    session: AsyncSession,
    tenant: str,
    cluster_id: uuid.UUID,
    other_id: uuid.UUID,
    relevant: bool,
    mode: str,
    rank: int | None,
) -> None:
    payload = contract.FeedbackRecorded(
        cluster_id=cluster_id, other_id=other_id, relevant=relevant, mode=mode, rank=rank
    )
    record_event(session, Outbox, contract.FEEDBACK_RECORDED, tenant, payload)


def profiles_consumer(rt: AnyRuntime, live: LiveIndex) -> DurableConsumer:
    """Registry cluster events into the projection table (with the profile's embeddings),
    shared by the replicas: each event is stored once, by one of them. The in-memory
    index hears them through each replica's own follower (index_follower), which finds
    the embeddings in the encoder's cache when this replica computed them here."""

    async def _project(session: AsyncSession, envelope: Envelope) -> None:
        await apply_event(session, envelope, live.encoder)

    return DurableConsumer(
        name=PROFILES_CONSUMER,
        stream=registry.STREAM,
        subject=registry.CLUSTER_ALL,
        js=rt.jetstream,
        telemetry=rt.telemetry,
        sessionmaker=rt.sessionmaker,
        inbox=Inbox,
        handler=_project,
    )


def index_follower(rt: AnyRuntime, live: LiveIndex) -> IndexFollower:
    """Every registry cluster event into this replica's index (see index_follower)."""
    return IndexFollower(
        rt.jetstream,
        live,
        stream=registry.STREAM,
        subject=registry.CLUSTER_ALL,
        shared_consumer=PROFILES_CONSUMER,
    )
