"""What a running matching service holds besides the platform's common runtime."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.subscription import Subscription

from services.matching.index_follower import IndexFollower
from services.matching.live_index import LiveIndex
from shared.messaging.consumer import DurableConsumer


@dataclass
class MatchingState:
    index: LiveIndex
    consumer: DurableConsumer
    follower: IndexFollower
    suggest_sub: Subscription | None = None
