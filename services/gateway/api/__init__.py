"""The gateway's own routes (every path no service claims), in matching order."""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway.api.auth import router as auth_router
from services.gateway.api.clients import router as clients_router
from services.gateway.api.people import router as people_router
from services.gateway.api.platform import router as platform_router
from services.gateway.api.webhooks import router as webhooks_router

routers: tuple[APIRouter, ...] = (
    clients_router,
    auth_router,
    people_router,
    webhooks_router,
    platform_router,
)
