"""JetStream streams, one per owning service, created idempotently at start-up."""

from __future__ import annotations

import asyncio
import time

import nats
from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError, ServiceUnavailableError

from shared.contracts.streams import STREAMS

# JetStream drops a re-published id seen within this window: long enough to cover a
# relay retrying after a broker outage of a few minutes.
DUPLICATE_WINDOW_SECONDS = 600.0


async def connect(url: str, name: str) -> NATS:
    # Reconnect for ever: a broker outage must delay messages, never kill a service.
    # NATS_URL may list a cluster's servers, comma-separated.
    servers = [u.strip() for u in url.split(",") if u.strip()]
    return await nats.connect(
        servers,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=True,
        # Shutdown drains subscriptions; a pull request parked on the server must not
        # hold a stopping service for the default 30 s.
        drain_timeout=3,
    )


async def ensure_stream(
    js: JetStreamContext, name: str, replicas: int = 1, patience: float = 30.0
) -> None:
    """Create the stream, or bring its configuration up to date; only when it differs,
    because replicas of a service start together and concurrent updates of a
    replicated stream make the cluster time them out. A time-out is retried until
    `patience` runs out (a stream leader being elected, a loaded machine)."""
    subjects = list(STREAMS[name])
    config = StreamConfig(
        name=name,
        subjects=subjects,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
    )
    deadline = time.monotonic() + patience
    while True:
        try:
            await _ensure(js, config)
            return
        except (NatsTimeoutError, ServiceUnavailableError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)  # retry pacing, bounded by the deadline


async def _ensure(js: JetStreamContext, config: StreamConfig) -> None:
    assert config.name is not None
    try:
        current = (await js.stream_info(config.name)).config
    except NotFoundError:
        await js.add_stream(config)
        return
    if (
        sorted(current.subjects or []) == sorted(config.subjects or [])
        and current.num_replicas == config.num_replicas
        and abs((current.duplicate_window or 0) - DUPLICATE_WINDOW_SECONDS) < 1
    ):
        return
    await js.update_stream(config)
