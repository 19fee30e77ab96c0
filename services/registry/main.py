"""Registry service: cluster profiles and tenants."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.api import router
from services.registry.models import IdempotencyKey, Outbox
from shared.app import create_service_app
from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    # Bulk import bodies may be large; they are streamed, never held whole in memory.
    max_upload_bytes: int = 1_073_741_824


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    return create_service_app(
        name="registry",
        title="Clusterbridge registry",
        description="Cluster profiles of every tenant; public profiles are readable by all.",
        settings=settings,
        routers=[router],
        outbox=Outbox,
        idempotency=IdempotencyKey,
        own_stream="REGISTRY",
        large_body_paths={"/v1/clusters/import": settings.max_upload_bytes},
    )
