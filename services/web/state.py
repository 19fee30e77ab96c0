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
    # Who a session id is, for a second (as long as the gateway itself keeps a session
    # before asking its database again): one round trip less on every page. Every read
    # and write still goes to the API with the session, which refuses an ended one.
    identities: dict[str, tuple[float, Any]] = field(default_factory=dict)
