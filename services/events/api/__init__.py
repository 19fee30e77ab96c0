"""The events API: routers of the route modules, in matching order."""

from __future__ import annotations

from fastapi import APIRouter

from services.events.api.day import router as day_router
from services.events.api.events import router as events_router
from services.events.api.requests import router as requests_router
from services.events.api.trainings import router as trainings_router

routers: tuple[APIRouter, ...] = (events_router, requests_router, day_router, trainings_router)
