"""What a running events service holds besides the platform's common runtime."""

from __future__ import annotations

from dataclasses import dataclass

from services.events.run_gate import RunGate
from shared.messaging.consumer import DurableConsumer


@dataclass
class EventsState:
    directory_consumer: DurableConsumer
    scheduler: RunGate
