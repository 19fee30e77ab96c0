"""What the running web app holds: its one pooled HTTP client to the gateway, the
templates, and the key of its CSRF tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import jinja2


@dataclass
class WebState:
    api: httpx.AsyncClient
    templates: jinja2.Environment
    csrf_key: bytes
    secure_cookies: bool
    # The tenants (names, countries, time zones) change a few times a year and read the
    # same for every person: kept a minute instead of asked on every page.
    tenants: tuple[float, list[dict[str, Any]]] | None = field(default=None)
