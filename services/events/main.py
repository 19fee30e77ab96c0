"""Events service: B2B matchmaking events, meeting requests, schedules, agendas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from fastapi import FastAPI

from services.events import messaging
from services.events.api import routers
from services.events.deps import EventsRuntime
from services.events.meeting_requests import expire_overdue
from services.events.models import IdempotencyKey, Outbox
from services.events.run_gate import RunGate
from services.events.settings import EventsSettings
from services.events.state import EventsState
from shared.app import create_service_app
from shared.contracts import registry
from shared.db.session import ANY_TENANT
from shared.messaging.streams import ensure_stream
from shared.runtime import AnyRuntime, transaction

__all__ = ["EventsSettings", "create_app"]

_log = structlog.get_logger("events")


async def _sweep(rt: AnyRuntime, every: float) -> None:
    while True:
        try:
            async with transaction(rt, ANY_TENANT) as session:
                await expire_overdue(session, datetime.now(UTC))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database hiccup: try again next round
            _log.warning("request expiry sweep failed", error=repr(exc))
        await asyncio.sleep(every)


def create_app(settings: EventsSettings | None = None) -> FastAPI:
    cfg = settings or EventsSettings()

    async def build_state(rt: EventsRuntime) -> EventsState:
        # The registry may start after us; its stream must exist for our consumer. With
        # the same replicas as the registry's own: ensure_stream also updates, and the
        # default of 1 would shrink a replicated stream back to one node.
        await ensure_stream(rt.jetstream, registry.STREAM, replicas=cfg.nats_stream_replicas)
        consumer = messaging.directory_consumer(rt, rt.sessionmaker)
        if cfg.run_workers:
            rt.start("directory-consumer", consumer.run())
            rt.start("request-expiry", _sweep(rt, cfg.expiry_sweep_seconds))
        return EventsState(directory_consumer=consumer, scheduler=RunGate(cfg.scheduler_runs))

    return create_service_app(
        name="events",
        title="Clusterbridge events",
        description="B2B matchmaking events: participants, meeting requests, schedules, agendas.",
        settings=cfg,
        routers=list(routers),
        build_state=build_state,
        outbox=Outbox,
        idempotency=IdempotencyKey,
        own_stream="EVENTS",
    )
