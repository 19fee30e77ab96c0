"""What a running gateway holds besides the platform's common runtime."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.openapi import OpenApiCache
from services.gateway.proxy import ProxyState


@dataclass
class GatewayState:
    proxy: ProxyState
    openapi: OpenApiCache
