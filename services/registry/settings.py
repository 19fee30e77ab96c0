"""The registry's settings."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    # Bulk import bodies may be large; they are streamed, never held whole in memory.
    max_upload_bytes: int = 1_073_741_824
    # A strategic partnership spans clusters of at least this many countries: it is
    # created only with candidates from that many and "formed" once they accepted.
    partnership_min_countries: int = Field(default=3, ge=2, le=10)
