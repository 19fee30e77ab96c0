"""JetStream streams, one per owning service, created idempotently at start-up."""

from __future__ import annotations

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

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


async def ensure_stream(js: JetStreamContext, name: str, replicas: int = 1) -> None:
    subjects = list(STREAMS[name])
    config = StreamConfig(
        name=name,
        subjects=subjects,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
    )
    try:
        await js.stream_info(name)
        await js.update_stream(config)
    except NotFoundError:
        await js.add_stream(config)
