"""The web app's settings: where the API is, and where browsers reach the platform."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field

from shared.settings import ServiceSettings

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class WebSettings(ServiceSettings):
    # The pages call the public API here, as the signed-in person.
    gateway_url: str = "http://127.0.0.1:8000"
    # Where browsers reach the platform: a non-loopback address means HTTPS, so the
    # session cookie is marked Secure.
    public_url: str = "http://127.0.0.1:8000"
    # Keys the CSRF tokens; empty means "derived from INTERNAL_TOKEN", which every
    # replica shares, so a form rendered by one is accepted by another.
    csrf_secret: str = ""
    # A scheduler run may take up to 30 s; everything else answers far sooner.
    api_timeout: float = Field(default=40.0, gt=0)
    page_size: int = Field(default=20, ge=1, le=100)

    @property
    def secure_cookies(self) -> bool:
        host = urlsplit(self.public_url).hostname or ""
        return host not in LOOPBACK_HOSTS
