"""Which service answers which public path, and which scopes open it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.identity import ADMIN_SCOPE


@dataclass(frozen=True)
class Route:
    prefix: str
    service: str
    scope_family: str  # a caller needs at least one scope of this family (or admin)

    def matches(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")


ROUTES: tuple[Route, ...] = (
    Route("/v1/clusters", "registry", "registry"),
    Route("/v1/tenants", "registry", "registry"),
    Route("/v1/imports", "registry", "registry"),
    Route("/v1/observatory", "registry", "registry"),
    Route("/v1/matching", "matching", "matching"),
    Route("/v1/events", "events", "events"),
    Route("/v1/trainings", "events", "events"),
    Route("/v1/partnerships", "registry", "registry"),
)


# Calls that think for long by design: a scheduler run takes up to its time limit (30 s
# at most, services.events.schemas.ScheduleRun) before it stores the draft. They get the
# long upstream timeout; every other call the usual one.
LONG_CALLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("POST", re.compile(r"/v1/events/[^/]+/schedules/?")),
)


def is_long(method: str, path: str) -> bool:
    return any(method == m and pattern.fullmatch(path) for m, pattern in LONG_CALLS)


# The web app gets every path that is neither the API nor the gateway's own.
WEB = Route("/", "web", "")
GATEWAY_PATHS = ("/v1/", "/openapi.json", "/docs", "/healthz", "/readyz", "/metrics", "/_gateway")


def route_for(path: str, available: frozenset[str]) -> Route | None:
    for route in ROUTES:
        if route.service in available and route.matches(path):
            return route
    if "web" in available and not (path == "/v1" or path.startswith(GATEWAY_PATHS)):
        return WEB
    return None


def may_use(scopes: frozenset[str], route: Route) -> bool:
    if not route.scope_family:
        return True
    if ADMIN_SCOPE in scopes:
        return True
    family = route.scope_family + ":"
    return any(s.startswith(family) for s in scopes)
