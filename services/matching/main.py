"""Matching service: competence-based partner matching that follows the registry live."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.api import router
from services.matching.deps import MatchingRuntime
from services.matching.live_index import LiveIndex
from services.matching.models import Inbox, Outbox
from services.matching.projection import apply_event
from services.matching.responder import serve_suggestions
from services.matching.settings import MatchingSettings
from services.matching.state import MatchingState
from shared.app import create_service_app
from shared.contracts import registry as registry_contract
from shared.messaging.consumer import DurableConsumer
from shared.messaging.envelope import Envelope

__all__ = ["MatchingSettings", "create_app"]

CONSUMER = "matching-profiles"


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    cfg = settings or MatchingSettings()

    async def build_state(rt: MatchingRuntime) -> MatchingState:
        live = LiveIndex(rt.sessionmaker)
        await live.load()
        consumer = DurableConsumer(
            name=CONSUMER,
            stream=registry_contract.STREAM,
            subject=registry_contract.CLUSTER_ALL,
            js=rt.jetstream,
            sessionmaker=rt.sessionmaker,
            inbox=Inbox,
            handler=apply_event_handler,
            on_committed=live.apply,
        )
        state = MatchingState(index=live, consumer=consumer)
        if cfg.run_workers:
            rt.start("registry-consumer", consumer.run())
            state.suggest_sub = await serve_suggestions(rt.nats, live.index)

        async def freshness() -> str | None:
            return None if live.freshness.ready else "index not built"

        rt.readiness["index"] = freshness
        rt.readiness_info = live.describe
        return state

    return create_service_app(
        name="matching",
        title="Clusterbridge matching",
        description="Which clusters abroad complement us, and why.",
        settings=cfg,
        routers=[router],
        build_state=build_state,
        outbox=Outbox,
        own_stream="MATCHING",
    )


async def apply_event_handler(session: AsyncSession, envelope: Envelope) -> None:
    await apply_event(session, envelope)
