"""The matching service's settings."""

from __future__ import annotations

from shared.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    # For rebuilds on demand; the live path needs only NATS.
    registry_url: str | None = None
