"""The matching API: partners, search, feedback, consortia, the index's state."""

from __future__ import annotations

from fastapi import APIRouter

from services.matching.api.partnerships import router as partnerships_router
from services.matching.api.routes import router

routers: tuple[APIRouter, ...] = (router, partnerships_router)
