"""What the running web app holds: its one pooled HTTP client to the gateway, the
templates, and the key of its CSRF tokens."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import jinja2


@dataclass
class WebState:
    api: httpx.AsyncClient
    templates: jinja2.Environment
    csrf_key: bytes
    secure_cookies: bool
