"""The registry's settings."""

from __future__ import annotations

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    # Bulk import bodies may be large; they are streamed, never held whole in memory.
    max_upload_bytes: int = 1_073_741_824
