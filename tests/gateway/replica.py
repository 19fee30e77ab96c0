"""Another gateway replica on the test platform's PostgreSQL, NATS and services."""

from __future__ import annotations

from typing import Any

from services.gateway.main import GatewaySettings
from tests.harness import INTERNAL_TOKEN, Platform


def replica_settings(platform: Platform, **overrides: Any) -> GatewaySettings:
    """As a second process would be: its own caches and buckets, no workers (they would
    only compete with the first replica's for the same rows)."""
    fields: dict[str, Any] = {
        "database_url": platform.database_url,
        "nats_url": platform.nats_url,
        "internal_token": INTERNAL_TOKEN,
        "environment": "test",
        "registry_url": platform.url("registry"),
        "events_url": platform.url("events"),
        "matching_url": platform.url("matching"),
        "rate_per_second": 10_000,
        "rate_burst": 10_000,
        "run_workers": False,
        **overrides,
    }
    return GatewaySettings(**fields)
