"""One OpenAPI document for the whole platform, merged from every service's own."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import structlog

from services.gateway.upstreams import Upstream
from shared.identity import INTERNAL_TOKEN_HEADER

_log = structlog.get_logger("gateway.openapi")


def _rename_refs(doc: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    if not renames:
        return doc
    raw = orjson.dumps(doc).decode()
    for old, new in renames.items():
        raw = raw.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    result: dict[str, Any] = orjson.loads(raw)
    return result


def merge(own: dict[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": own.get("openapi", "3.1.0"),
        "info": {
            "title": "Clusterbridge API",
            "version": "1.0.0",
            "description": (
                "One door to the Clusterbridge platform: cluster registry, partner "
                "matching and B2B matchmaking events. Authenticate with "
                "`Authorization: Bearer <api key>`. Errors are RFC 9457 problem documents."
            ),
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apiKey": []}],
        "tags": [],
    }
    schemas: dict[str, Any] = merged["components"]["schemas"]
    for name, doc in [("gateway", own), *sorted(services.items())]:
        renames: dict[str, str] = {}
        for schema_name, schema in doc.get("components", {}).get("schemas", {}).items():
            if schema_name in schemas and schemas[schema_name] != schema:
                renames[schema_name] = f"{name.capitalize()}{schema_name}"
        doc = _rename_refs(doc, renames)
        for schema_name, schema in doc.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(renames.get(schema_name, schema_name), schema)
        for path, item in doc.get("paths", {}).items():
            if path.startswith("/v1/"):
                merged["paths"][path] = item
        for tag in doc.get("tags", []):
            if tag not in merged["tags"]:
                merged["tags"].append(tag)
    return merged


class OpenApiCache:
    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._doc: dict[str, Any] | None = None
        self._at = 0.0

    async def get(
        self,
        http: httpx.AsyncClient,
        upstreams: dict[str, Upstream],
        token: str,
        own: dict[str, Any],
    ) -> dict[str, Any]:
        if self._doc is not None and time.monotonic() - self._at < self.ttl:
            return self._doc
        docs: dict[str, dict[str, Any]] = {}
        complete = True
        for service, upstream in upstreams.items():
            try:
                r = await upstream.request(
                    http,
                    "GET",
                    "/openapi.json",
                    headers={INTERNAL_TOKEN_HEADER: token},
                    timeout=httpx.Timeout(3.0, connect=1.0),
                )
                r.raise_for_status()
                docs[service] = r.json()
            except httpx.HTTPError as exc:
                complete = False
                _log.warning("openapi of a service unavailable", service=service, error=repr(exc))
        doc = merge(own, docs)
        if complete:  # cache only a full picture; retry a partial one next time
            self._doc, self._at = doc, time.monotonic()
        return doc
