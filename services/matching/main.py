"""Matching service: competence-based partner matching that follows the registry live."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.api import router
from services.matching.live_index import LiveIndex
from services.matching.models import Inbox, Outbox
from services.matching.projection import apply_event
from services.matching.responder import serve_suggestions
from shared.app import create_service_app
from shared.messaging.consumer import DurableConsumer
from shared.messaging.envelope import Envelope
from shared.runtime import Runtime
from shared.settings import ServiceSettings

CONSUMER = "matching-profiles"


class MatchingSettings(ServiceSettings):
    # For rebuilds on demand; the live path needs only NATS.
    registry_url: str | None = None


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    cfg = settings or MatchingSettings()

    async def start(rt: Runtime) -> None:
        assert rt.js is not None
        assert rt.nc is not None
        live = LiveIndex(rt.sessionmaker)
        rt.extras["index"] = live
        await live.load()
        consumer = DurableConsumer(
            name=CONSUMER,
            stream="REGISTRY",
            subject="registry.cluster.>",
            js=rt.js,
            sessionmaker=rt.sessionmaker,
            inbox=Inbox,
            handler=apply_event_handler,
            on_committed=live.apply,
        )
        rt.extras["consumer"] = consumer
        if cfg.run_workers:
            rt.start("registry-consumer", consumer.run())
            rt.extras["suggest_sub"] = await serve_suggestions(rt.nc, live.index)

        async def freshness() -> str | None:
            return None if live.freshness.ready else "index not built"

        rt.readiness["index"] = freshness
        rt.extras["readiness_info"] = live.describe

    return create_service_app(
        name="matching",
        title="Clusterbridge matching",
        description="Which clusters abroad complement us, and why.",
        settings=cfg,
        routers=[router],
        outbox=Outbox,
        own_stream="MATCHING",
        on_startup=[start],
    )


async def apply_event_handler(session: AsyncSession, envelope: Envelope) -> None:
    await apply_event(session, envelope)
