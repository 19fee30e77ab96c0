"""The events service's settings."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    # Requests also expire lazily on read; the sweep covers events nobody looks at.
    expiry_sweep_seconds: float = Field(default=30.0, gt=0)
    # A Unicode font embedded in certificates of attendance (core font if absent).
    certificate_font: str | None = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    # Fonts for characters the main one lacks (Chinese, Japanese, Korean), by path.
    certificate_fallback_fonts: list[str] = []
