"""Registry service: cluster profiles and tenants."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.api import routers
from services.registry.models import IdempotencyKey, Outbox
from services.registry.settings import RegistrySettings
from shared.app import create_service_app
from shared.contracts import registry

__all__ = ["RegistrySettings", "create_app"]


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    return create_service_app(
        name="registry",
        title="Clusterbridge registry",
        description="Cluster profiles of every tenant; public profiles are readable by all.",
        settings=settings,
        routers=list(routers),
        outbox=Outbox,
        idempotency=IdempotencyKey,
        own_stream=registry.STREAM,
        large_body_paths={"/v1/clusters/import": settings.max_upload_bytes},
    )
