"""All SQL of the events service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.events.lifecycle import OPEN_REQUESTS, RequestStatus, Status
from services.events.models import (
    DirectoryCluster,
    Event,
    MeetingRequest,
    Participant,
    Placement,
    Schedule,
    Training,
    TrainingRegistration,
)
from shared.db.text_search import contains
from shared.pagination import keyset_page


class EventsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ---- events ----------------------------------------------------------------------

    async def event(self, event_id: uuid.UUID, *, lock: bool = False) -> Event | None:
        stmt = select(Event).where(Event.id == event_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def events_page(
        self,
        limit: int,
        cursor: str | None,
        status: str | None,
        tenant: str | None,
        text_query: str | None = None,
        drafts_of: str | None = None,
    ) -> tuple[list[Event], str | None]:
        """`drafts_of`: the one tenant whose drafts are listed too (None: every
        tenant's, for the operator)."""
        stmt = select(Event)
        if drafts_of is not None:
            stmt = stmt.where((Event.status != Status.DRAFT) | (Event.tenant == drafts_of))
        if status:
            stmt = stmt.where(Event.status == status)
        if tenant:
            stmt = stmt.where(Event.tenant == tenant)
        # Every word typed, in the title or the venue, in any order.
        for word in (text_query or "").split():
            stmt = stmt.where(contains(Event.title, word) | contains(Event.venue, word))
        return await keyset_page(self.session, stmt, Event.created_at, Event.id, limit, cursor)

    # ---- directory -------------------------------------------------------------------

    async def cluster(self, cluster_id: uuid.UUID) -> DirectoryCluster | None:
        return await self.session.get(DirectoryCluster, cluster_id)

    async def upsert_directory(self, values: dict[str, object], *, keep_name: bool) -> None:
        """Insert or update a directory row, only with a newer version than stored."""
        stmt = insert(DirectoryCluster).values(**values)
        update = {
            k: stmt.excluded[k]
            for k in values
            if k != "id" and (not keep_name or k not in ("name", "country"))
        }
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[DirectoryCluster.id],
                set_=update,
                where=DirectoryCluster.version < stmt.excluded.version,
            )
        )

    async def clusters(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, DirectoryCluster]:
        if not ids:
            return {}
        rows = await self.session.scalars(
            select(DirectoryCluster).where(DirectoryCluster.id.in_(list(ids)))
        )
        return {c.id: c for c in rows}

    # ---- participants ----------------------------------------------------------------

    async def participant(
        self, event_id: uuid.UUID, cluster_id: uuid.UUID, *, lock: bool = False
    ) -> Participant | None:
        stmt = select(Participant).where(
            Participant.event_id == event_id, Participant.cluster_id == cluster_id
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def participants(self, event_id: uuid.UUID) -> list[Participant]:
        rows = await self.session.scalars(
            select(Participant)
            .where(Participant.event_id == event_id)
            .order_by(Participant.created_at, Participant.id)
        )
        return list(rows.all())

    # ---- requests --------------------------------------------------------------------

    async def request(
        self, event_id: uuid.UUID, request_id: uuid.UUID, *, lock: bool = False
    ) -> MeetingRequest | None:
        stmt = select(MeetingRequest).where(
            MeetingRequest.event_id == event_id, MeetingRequest.id == request_id
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def requests(
        self,
        event_id: uuid.UUID,
        *,
        status: str | None = None,
        cluster: uuid.UUID | None = None,
        lock: bool = False,
    ) -> list[MeetingRequest]:
        """The event's requests this transaction may see (row-level security)."""
        stmt = select(MeetingRequest).where(MeetingRequest.event_id == event_id)
        if status:
            stmt = stmt.where(MeetingRequest.status == status)
        if cluster:
            stmt = stmt.where(
                (MeetingRequest.sender_cluster == cluster)
                | (MeetingRequest.receiver_cluster == cluster)
            )
        stmt = stmt.order_by(MeetingRequest.created_at, MeetingRequest.id)
        if lock:
            stmt = stmt.with_for_update()
        return list((await self.session.scalars(stmt)).all())

    async def open_between(
        self, event_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID
    ) -> MeetingRequest | None:
        """A pending or accepted request between a and b, in either direction."""
        stmt = select(MeetingRequest).where(
            MeetingRequest.event_id == event_id,
            MeetingRequest.status.in_(tuple(OPEN_REQUESTS)),
            (
                ((MeetingRequest.sender_cluster == a) & (MeetingRequest.receiver_cluster == b))
                | ((MeetingRequest.sender_cluster == b) & (MeetingRequest.receiver_cluster == a))
            ),
        )
        return (await self.session.scalars(stmt)).first()

    async def overdue(self, now: datetime, event_id: uuid.UUID | None) -> list[MeetingRequest]:
        """Pending requests whose event's deadline has passed, locked for expiry."""
        stmt = (
            select(MeetingRequest)
            .join(Event, Event.id == MeetingRequest.event_id)
            .where(MeetingRequest.status == RequestStatus.PENDING, Event.request_deadline <= now)
            .with_for_update(of=MeetingRequest, skip_locked=True)
        )
        if event_id is not None:
            stmt = stmt.where(MeetingRequest.event_id == event_id)
        return list((await self.session.scalars(stmt)).all())

    async def count_requests(self, event_id: uuid.UUID) -> dict[str, int]:
        rows = await self.session.execute(
            select(MeetingRequest.status, func.count())
            .where(MeetingRequest.event_id == event_id)
            .group_by(MeetingRequest.status)
        )
        return {status: int(n) for status, n in rows}

    # ---- schedules -------------------------------------------------------------------

    async def schedule(self, event_id: uuid.UUID, schedule_id: uuid.UUID) -> Schedule | None:
        stmt = select(Schedule).where(Schedule.event_id == event_id, Schedule.id == schedule_id)
        return (await self.session.scalars(stmt)).first()

    async def schedules(self, event_id: uuid.UUID) -> list[Schedule]:
        rows = await self.session.scalars(
            select(Schedule)
            .where(Schedule.event_id == event_id)
            .order_by(Schedule.created_at.desc(), Schedule.id)
        )
        return list(rows.all())

    async def schedule_in(
        self, event_id: uuid.UUID, status: str, *, lock: bool = False
    ) -> Schedule | None:
        """The newest schedule of the event in `status` (draft or published)."""
        stmt = (
            select(Schedule)
            .where(Schedule.event_id == event_id, Schedule.status == status)
            .order_by(Schedule.created_at.desc())
            .limit(1)
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def placements(self, schedule_id: uuid.UUID) -> list[Placement]:
        rows = await self.session.scalars(
            select(Placement)
            .where(Placement.schedule_id == schedule_id)
            .order_by(Placement.slot, Placement.table_no)
        )
        return list(rows.all())

    async def placement_of(self, schedule_id: uuid.UUID, request_id: uuid.UUID) -> Placement | None:
        stmt = select(Placement).where(
            Placement.schedule_id == schedule_id, Placement.request_id == request_id
        )
        return (await self.session.scalars(stmt)).first()


class TrainingsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: Training | TrainingRegistration) -> None:
        self.session.add(row)

    async def training(self, training_id: uuid.UUID) -> Training | None:
        return await self.session.get(Training, training_id)

    async def page(
        self, limit: int, cursor: str | None, tenant: str | None
    ) -> tuple[list[Training], str | None]:
        stmt = select(Training)
        if tenant:
            stmt = stmt.where(Training.tenant == tenant)
        return await keyset_page(
            self.session, stmt, Training.created_at, Training.id, limit, cursor
        )

    async def lock_queue(self, training_id: uuid.UUID) -> None:
        """Serialise every change of one training's queue until the transaction ends.

        A transaction-scoped advisory lock rather than SELECT ... FOR UPDATE on the
        training row: row-level security lets only the organiser's tenant lock that
        row, and people of every tenant register.
        """
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"events.training:{training_id}"},
        )

    async def queue(self, training_id: uuid.UUID) -> list[TrainingRegistration]:
        """The live registrations, first come first."""
        stmt = (
            select(TrainingRegistration)
            .where(
                TrainingRegistration.training_id == training_id,
                TrainingRegistration.cancelled_at.is_(None),
            )
            .order_by(TrainingRegistration.seq)
        )
        return list((await self.session.scalars(stmt)).all())

    async def live_counts(self, training_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not training_ids:
            return {}
        stmt = (
            select(TrainingRegistration.training_id, func.count())
            .where(
                TrainingRegistration.training_id.in_(training_ids),
                TrainingRegistration.cancelled_at.is_(None),
            )
            .group_by(TrainingRegistration.training_id)
        )
        rows = (await self.session.execute(stmt)).all()
        return {row[0]: int(row[1]) for row in rows}

    async def registration(
        self, training_id: uuid.UUID, registration_id: uuid.UUID
    ) -> TrainingRegistration | None:
        row = await self.session.get(TrainingRegistration, registration_id)
        return row if row is not None and row.training_id == training_id else None

    async def all_of(self, training_id: uuid.UUID) -> list[TrainingRegistration]:
        stmt = (
            select(TrainingRegistration)
            .where(TrainingRegistration.training_id == training_id)
            .order_by(TrainingRegistration.seq)
        )
        return list((await self.session.scalars(stmt)).all())

    async def live_of_person(
        self, training_id: uuid.UUID, person_id: uuid.UUID
    ) -> TrainingRegistration | None:
        stmt = select(TrainingRegistration).where(
            TrainingRegistration.training_id == training_id,
            TrainingRegistration.person_id == person_id,
            TrainingRegistration.cancelled_at.is_(None),
        )
        return (await self.session.scalars(stmt)).first()
