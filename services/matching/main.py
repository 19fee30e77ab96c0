"""Matching service: competence-based partner matching that follows the registry live."""

from __future__ import annotations

from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from services.matching import messaging
from services.matching.api import routers
from services.matching.deps import MatchingRuntime
from services.matching.engine.embeddings import CachedEncoder, Encoder
from services.matching.engine.encoders import UseEncoder
from services.matching.live_index import LiveIndex
from services.matching.models import Outbox
from services.matching.responder import serve_suggestions
from services.matching.settings import MatchingSettings
from services.matching.state import MatchingState
from shared.app import create_service_app
from shared.runtime import AnyRuntime

__all__ = ["MatchingSettings", "create_app"]


def encoder_for(name: str) -> Encoder | None:
    """The configured embedding model (a deployment adds its own encoder here)."""
    if name == "none":
        return None
    if name == "use-multilingual-v3":
        return CachedEncoder(UseEncoder())
    raise ValueError(f"unknown EMBEDDING_MODEL {name!r}: use-multilingual-v3 or none")


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    cfg = settings or MatchingSettings()

    # Queries multiply small matrices: BLAS threads only add hand-offs on a shared CPU
    # (measured: a match at 10,000 profiles took 3-8x longer with 2 threads than 1).
    threadpool_limits(1, user_api="blas")

    async def build_state(rt: MatchingRuntime) -> MatchingState:
        live = LiveIndex(rt.sessionmaker, encoder_for(cfg.embedding_model))
        await live.warm_up()
        follower = messaging.index_follower(rt, live)
        # Before the snapshot: the follower starts where the snapshot is sure to end.
        await follower.start_sequence()
        await live.load()
        consumer = messaging.profiles_consumer(rt, live)
        state = MatchingState(index=live, consumer=consumer, follower=follower)
        if cfg.run_workers:
            rt.start("registry-consumer", consumer.run())
            rt.start("index-follower", follower.run())
            state.suggest_sub = await serve_suggestions(rt.nats, live.index, rt.telemetry)

        async def freshness() -> str | None:
            return None if live.freshness.ready else "index not built"

        rt.readiness["index"] = freshness
        rt.readiness_info = live.describe
        return state

    async def stop(rt: AnyRuntime) -> None:
        if rt.has_state:
            await rt.state.follower.close()
            await rt.state.index.close()

    return create_service_app(
        name="matching",
        title="Clusterbridge matching",
        description="Which clusters abroad complement us, and why.",
        settings=cfg,
        routers=list(routers),
        build_state=build_state,
        outbox=Outbox,
        own_stream="MATCHING",
        on_shutdown=[stop],
    )
