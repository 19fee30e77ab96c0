"""Matching service: competence-based partner matching that follows the registry live."""

from __future__ import annotations

from fastapi import FastAPI

from services.matching import messaging
from services.matching.api import routers
from services.matching.deps import MatchingRuntime
from services.matching.live_index import LiveIndex
from services.matching.models import Outbox
from services.matching.responder import serve_suggestions
from services.matching.settings import MatchingSettings
from services.matching.state import MatchingState
from shared.app import create_service_app

__all__ = ["MatchingSettings", "create_app"]


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    cfg = settings or MatchingSettings()

    async def build_state(rt: MatchingRuntime) -> MatchingState:
        live = LiveIndex(rt.sessionmaker)
        await live.load()
        consumer = messaging.profiles_consumer(rt, live)
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
        routers=list(routers),
        build_state=build_state,
        outbox=Outbox,
        own_stream="MATCHING",
    )
