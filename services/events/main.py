"""Events service: B2B matchmaking events, meeting requests, schedules, agendas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from fastapi import FastAPI
from pydantic import Field

from services.events import directory, messaging
from services.events.api import routers
from services.events.models import IdempotencyKey, Inbox, Outbox
from services.events.requests import expire_overdue
from shared.app import create_service_app
from shared.db.session import ANY_TENANT, tenant_session
from shared.messaging.consumer import DurableConsumer
from shared.messaging.streams import ensure_stream
from shared.runtime import Runtime
from shared.settings import ServiceSettings

_log = structlog.get_logger("events")


class EventsSettings(ServiceSettings):
    # Requests also expire lazily on read; the sweep covers events nobody looks at.
    expiry_sweep_seconds: float = Field(default=30.0, gt=0)


async def _sweep(rt: Runtime, every: float) -> None:
    while True:
        try:
            async with tenant_session(rt.sessionmaker, ANY_TENANT) as session:
                n = await expire_overdue(session, datetime.now(UTC))
            if n and rt.relay is not None:
                rt.relay.wake()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database hiccup: try again next round
            _log.warning("request expiry sweep failed", error=repr(exc))
        await asyncio.sleep(every)


def directory_consumer(rt: Runtime) -> DurableConsumer:
    assert rt.js is not None
    return DurableConsumer(
        name=messaging.DIRECTORY_CONSUMER,
        stream=messaging.REGISTRY_STREAM,
        subject=messaging.REGISTRY_CLUSTER_SUBJECT,
        js=rt.js,
        sessionmaker=rt.sessionmaker,
        inbox=Inbox,
        handler=directory.apply,
    )


def create_app(settings: EventsSettings | None = None) -> FastAPI:
    settings = settings or EventsSettings()

    async def start_workers(rt: Runtime) -> None:
        assert rt.js is not None
        # The registry may start after us; its stream must exist for our consumer.
        await ensure_stream(rt.js, messaging.REGISTRY_STREAM)
        consumer = directory_consumer(rt)
        rt.extras["directory_consumer"] = consumer
        if settings.run_workers:
            rt.start("directory-consumer", consumer.run())
            rt.start("request-expiry", _sweep(rt, settings.expiry_sweep_seconds))

    return create_service_app(
        name="events",
        title="Clusterbridge events",
        description="B2B matchmaking events: participants, meeting requests, schedules, agendas.",
        settings=settings,
        routers=list(routers),
        outbox=Outbox,
        idempotency=IdempotencyKey,
        own_stream="EVENTS",
        on_startup=[start_workers],
    )
