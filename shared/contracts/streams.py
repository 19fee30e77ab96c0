"""Every JetStream stream of the platform and the subjects it holds."""

from __future__ import annotations

from shared.contracts import events, gateway, matching, registry

STREAMS: dict[str, tuple[str, ...]] = {
    registry.STREAM: registry.SUBJECTS,
    matching.STREAM: matching.SUBJECTS,
    events.STREAM: events.SUBJECTS,
    gateway.STREAM: gateway.SUBJECTS,
}
