"""What a running matching service holds besides the platform's common runtime."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.subscription import Subscription

from services.matching.live_index import LiveIndex
from shared.messaging.consumer import DurableConsumer


@dataclass
class MatchingState:
    index: LiveIndex
    consumer: DurableConsumer
    suggest_sub: Subscription | None = None
