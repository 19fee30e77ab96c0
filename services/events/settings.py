"""The events service's settings."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    # Scheduler runs at once in one process (run_gate.RunGate): each forks up to two
    # search processes; beyond this a run answers 503 with Retry-After.
    scheduler_runs: int = Field(default=2, ge=1, le=64)
    # Requests also expire lazily on read; the sweep covers events nobody looks at.
    expiry_sweep_seconds: float = Field(default=30.0, gt=0)
    # A Unicode font embedded in certificates of attendance (core font if absent).
    certificate_font: str | None = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    # Fonts for characters the main one lacks (Chinese, Japanese, Korean), by path.
    certificate_fallback_fonts: list[str] = []
