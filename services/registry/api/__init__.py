"""The registry API: routers of the route modules, in matching order."""

from __future__ import annotations

from fastapi import APIRouter

from services.registry.api.benchmarking import router as benchmarking_router
from services.registry.api.clusters import router as clusters_router
from services.registry.api.imports import router as imports_router
from services.registry.api.labels import router as labels_router
from services.registry.api.observatory import router as observatory_router
from services.registry.api.partnerships import router as partnerships_router
from services.registry.api.tenants import router as tenants_router

# Imports first: `/v1/clusters/import` must not be read as a cluster id.
routers: tuple[APIRouter, ...] = (
    imports_router,
    tenants_router,
    clusters_router,
    labels_router,
    benchmarking_router,
    observatory_router,
    partnerships_router,
)
