"""The match index held by a running service: built from the projection, kept fresh by
committed events, maintained in a worker thread, and able to say how fresh it is."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.matching.engine.documents import Profile
from services.matching.engine.index import MatchIndex
from services.matching.projection import DELETED, live_profiles
from shared.messaging.envelope import Envelope

_log = structlog.get_logger("matching.index")

INDEX_PROFILES = Gauge("clusterbridge_match_index_profiles", "Profiles in the match index")
INDEX_LAG = Gauge(
    "clusterbridge_match_index_lag_seconds",
    "Seconds between the last applied registry change and its arrival in the index",
)
INDEX_LAST_APPLIED = Gauge(
    "clusterbridge_match_index_last_applied_timestamp",
    "Unix time the index last applied a registry change",
)


@dataclass
class Freshness:
    built_at: float = 0.0
    last_applied_at: float | None = None
    last_event_occurred_at: datetime | None = None
    last_lag_seconds: float | None = None
    pending: int | None = None  # messages the consumer has not handled yet
    ready: bool = False
    rebuilds: int = 0
    errors: list[str] = field(default_factory=list)


class LiveIndex:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.index = MatchIndex()
        self.freshness = Freshness()
        self._maintaining = False

    async def load(self) -> int:
        """(Re)build the whole index from the projection table."""
        async with self.sessionmaker() as s:
            profiles = await live_profiles(s)
        await asyncio.to_thread(self.index.build, profiles)
        self.freshness.built_at = time.time()
        self.freshness.ready = True
        self.freshness.rebuilds += 1
        INDEX_PROFILES.set(len(self.index))
        _log.info("match index built", profiles=len(profiles))
        return len(profiles)

    async def apply(self, envelopes: list[Envelope]) -> None:
        """Called after the consumer committed these events to the projection.

        Vectorising a profile takes milliseconds; a batch of them runs in a thread so the
        event loop keeps answering queries meanwhile."""
        await asyncio.to_thread(self._apply, envelopes)
        if (self.index.needs_refit or self.index.needs_compaction) and not self._maintaining:
            self._maintaining = True
            asyncio.get_running_loop().create_task(self._maintain())

    def _apply(self, envelopes: list[Envelope]) -> None:
        for env in envelopes:
            if env.type == DELETED:
                self.index.remove(str(env.data["id"]), int(env.data.get("version", 0)) or None)
            else:
                self.index.upsert(Profile.from_event_data(env.data))
            now = time.time()
            lag = max(0.0, now - env.occurred_at.timestamp())
            self.freshness.last_applied_at = now
            self.freshness.last_event_occurred_at = env.occurred_at
            self.freshness.last_lag_seconds = lag
            INDEX_LAG.set(lag)
            INDEX_LAST_APPLIED.set(now)
        INDEX_PROFILES.set(len(self.index))

    async def _maintain(self) -> None:
        # Refit or compaction runs on a snapshot in a thread; queries and upserts go on.
        try:
            await asyncio.to_thread(self.index.rebuild)
            self.freshness.built_at = time.time()
        except Exception as exc:  # keep serving the old index; report it
            _log.exception("index maintenance failed")
            self.freshness.errors = [repr(exc)][-5:]
        finally:
            self._maintaining = False

    def describe(self) -> dict[str, object]:
        stats = self.index.stats()
        f = self.freshness
        return {
            "profiles": stats.profiles,
            "built_at": datetime.fromtimestamp(f.built_at, UTC).isoformat() if f.built_at else None,
            "build_seconds": round(stats.build_seconds, 3),
            "last_applied_at": (
                datetime.fromtimestamp(f.last_applied_at, UTC).isoformat()
                if f.last_applied_at
                else None
            ),
            "last_lag_seconds": None
            if f.last_lag_seconds is None
            else round(f.last_lag_seconds, 3),
            "pending_events": f.pending,
            "needs_refit": stats.needs_refit,
            "needs_compaction": stats.needs_compaction,
        }
