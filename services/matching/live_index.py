"""The match index held by a running service: built from the projection, kept fresh by
committed events, maintained in a worker thread, and able to say how fresh it is."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.matching.engine.embeddings import Encoder
from services.matching.engine.index import MatchIndex
from services.matching.projection import (
    DELETED,
    applied_versions,
    live_profiles,
    profile_of,
    store_embeddings,
    stored_embeddings,
)
from shared.messaging.envelope import Envelope

_log = structlog.get_logger("matching.index")

# A refit for new words waits this long after the upsert that brought them (seconds) ...
REFIT_DEBOUNCE = 2.0
# ... and starts at least this many times the last refit's duration after it ended.
REFIT_SPACING = 10.0

INDEX_PROFILES = Gauge("clusterbridge_match_index_profiles", "Profiles in the match index")
INDEX_LAG = Gauge(
    "clusterbridge_match_index_lag_seconds",
    "Seconds between the last applied registry change and its arrival in the index",
)
REFUSED = Gauge(
    "clusterbridge_match_index_refused_profiles",
    "Profiles of the projection that the match index could not take (see /status)",
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
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], encoder: Encoder | None = None
    ) -> None:
        self.sessionmaker = sessionmaker
        self.encoder = encoder
        self.index = MatchIndex(encoder=encoder)
        self.reused_embeddings = 0  # stored embeddings the last load used as they were
        self.freshness = Freshness()
        # Profiles the engine could not index, by cluster id, with the reason.
        self.refused: dict[str, str] = {}
        self._maintaining = False
        # A refit for words new to the vocabulary, waiting to run (see apply).
        self._refit_soon: asyncio.Task[None] | None = None
        self._last_refit_seconds = 0.0
        self._last_refit_at = 0.0

    async def warm_up(self) -> None:
        """Load the embedding model now (seconds), not on the first profile event."""
        if self.encoder is not None:
            await asyncio.to_thread(self.encoder.encode, ["warm-up"])

    async def load(self) -> int:
        """(Re)build the whole index from the projection table and the stored embeddings;
        embeddings that were missing or stale are computed and stored for next time."""
        async with self.sessionmaker() as s:
            # Profiles and their vectors from one snapshot: a profile the consumer commits
            # between the two reads would otherwise look stale and be embedded again (the
            # consumer brings the newer version to the index anyway).
            await s.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
            profiles, refused = await live_profiles(s)
            stored = await stored_embeddings(s, self.encoder.name) if self.encoder else {}
        await asyncio.to_thread(self.index.build, profiles, stored)
        if self.encoder is not None:
            fresh = [
                (p.id, v)
                for p in profiles
                if not ((old := stored.get(p.id)) and old.fits(p, self.encoder.name))
                and (v := self.index.vectors(p.id)) is not None
            ]
            self.reused_embeddings = len(profiles) - len(fresh)
            if fresh:
                async with self.sessionmaker() as s, s.begin():
                    await store_embeddings(s, fresh, self.encoder.dim)
        self.refused = refused
        REFUSED.set(len(refused))
        for cluster_id, reason in refused.items():
            _log.error("profile kept out of the match index", cluster_id=cluster_id, reason=reason)
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
        elif self.index.new_words:
            # A profile's own words (a rare technology, a new term) are unknown to the
            # vocabulary until a refit; the policy above waits for many of them, so a few
            # new profiles among ordinary ones were not found by those words at all.
            self._schedule_refit()

    async def close(self) -> None:
        """Drop a refit still waiting to start (a running one ends with its thread)."""
        task, self._refit_soon = self._refit_soon, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _schedule_refit(self) -> None:
        if self._refit_soon is None:
            loop = asyncio.get_running_loop()
            self._refit_soon = loop.create_task(self._refit_for_new_words())

    async def _refit_for_new_words(self) -> None:
        # After a short pause (a burst of upserts gets one refit), and never more often
        # than keeps refits under a tenth of the time (REFIT_SPACING x the last one).
        since = time.monotonic() - self._last_refit_at
        await asyncio.sleep(max(REFIT_DEBOUNCE, REFIT_SPACING * self._last_refit_seconds - since))
        if not self._maintaining and self.index.new_words:
            self._maintaining = True
            await self._maintain(refit=True)
        self._refit_soon = None
        if self.index.new_words:
            # Other maintenance was running, or upserts came during the refit.
            self._schedule_refit()

    def _apply(self, envelopes: list[Envelope]) -> None:
        for env in envelopes:
            # Each event on its own: the batch was committed and acknowledged as a whole,
            # so an error on one must not keep the others out of the index.
            try:
                self._apply_one(env)
            except Exception as exc:
                self._refuse(env, exc)
            now = time.time()
            lag = max(0.0, now - env.occurred_at.timestamp())
            self.freshness.last_applied_at = now
            self.freshness.last_event_occurred_at = env.occurred_at
            self.freshness.last_lag_seconds = lag
            INDEX_LAG.set(lag)
            INDEX_LAST_APPLIED.set(now)
        INDEX_PROFILES.set(len(self.index))

    def _apply_one(self, env: Envelope) -> None:
        cluster_id = str(env.data["id"])
        if env.type == DELETED:
            self.index.remove(cluster_id, int(env.data.get("version", 0)) or None)
        else:
            self.index.upsert(profile_of(env.data))
        self.refused.pop(cluster_id, None)

    def _refuse(self, env: Envelope, exc: Exception) -> None:
        """Keep a profile the index could not take out of it, whole, with the reason.

        The projection table holds the event (it committed); a stale copy in the index
        would answer for a profile that changed, so the old version goes too. A later
        event for the same cluster, or a rebuild, brings it back.
        """
        cluster_id = str(env.data.get("id", "?"))
        reason = f"{type(exc).__name__}: {exc}"
        _log.error("profile kept out of the match index", cluster_id=cluster_id, reason=reason)
        if cluster_id in self.index:
            try:
                self.index.remove(cluster_id)
            except Exception:
                _log.exception("could not drop the stale profile", cluster_id=cluster_id)
        self.refused[cluster_id] = reason
        REFUSED.set(len(self.refused))
        self.freshness.errors = [*self.freshness.errors, f"{cluster_id}: {reason}"][-5:]

    async def _maintain(self, refit: bool | None = None) -> None:
        # Refit or compaction runs on a snapshot in a thread; queries and upserts go on.
        started = time.monotonic()
        try:
            await asyncio.to_thread(self.index.rebuild, refit=refit)
            self.freshness.built_at = time.time()
            if refit:
                self._last_refit_at = time.monotonic()
                self._last_refit_seconds = self._last_refit_at - started
        except Exception as exc:  # keep serving the old index; report it
            _log.exception("index maintenance failed")
            self.freshness.errors = [repr(exc)][-5:]
        finally:
            self._maintaining = False

    async def disagreements(self) -> dict[str, tuple[int | None, int | None]]:
        """Clusters whose state differs between the projection table and the index:
        id → (version in the table, version in the index; None = absent or deleted).
        Refused profiles are left out: they are reported on their own."""
        async with self.sessionmaker() as s:
            stored = await applied_versions(s)
        indexed = self.index.versions()
        out: dict[str, tuple[int | None, int | None]] = {}
        for cluster_id in stored.keys() | indexed.keys():
            if cluster_id in self.refused:
                continue
            pair = (stored.get(cluster_id), indexed.get(cluster_id))
            if pair[0] != pair[1]:
                out[cluster_id] = pair
        return out

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
            "refused": dict(sorted(self.refused.items())[:20]),
            "refused_count": len(self.refused),
            "embedding_model": self.encoder.name if self.encoder else None,
            "embeddings_reused_at_load": self.reused_embeddings,
            "embeddings_computed_at_load": self.index.embedded_at_build,
        }
