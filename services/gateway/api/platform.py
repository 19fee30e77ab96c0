"""Routes: the merged API description, its docs, and the platform's health."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import fastapi_offline
import httpx
from fastapi import Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from services.gateway.deps import GatewayDep
from services.gateway.proxy import ProxyState
from shared.problems import Problem, problem_response
from shared.routing import api_router

router = api_router()


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, rt: GatewayDep) -> JSONResponse:
    proxy = rt.state.proxy
    doc = await rt.state.openapi.get(
        proxy.http, proxy.upstreams, proxy.internal_token, request.app.openapi()
    )
    return JSONResponse(doc)


# Swagger UI's own files, from an installed package: /docs works with no internet.
SWAGGER_FILES = Path(fastapi_offline.__file__).parent / "static"
_SERVED = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Clusterbridge API",
        swagger_js_url="/docs/static/swagger-ui-bundle.js",
        swagger_css_url="/docs/static/swagger-ui.css",
        swagger_favicon_url="data:,",
    )


@router.get("/docs/static/{name}", include_in_schema=False)
async def docs_file(name: str) -> Response:
    media = _SERVED.get(name)
    if media is None:
        raise Problem(404, "No such file.")
    return FileResponse(
        SWAGGER_FILES / name, media_type=media, headers={"Cache-Control": "max-age=86400"}
    )


async def _replica_health(state: ProxyState, base: str) -> dict[str, Any]:
    try:
        r = await state.http.get(f"{base}/healthz", timeout=httpx.Timeout(2.0, connect=0.5))
        return {"status": "ok" if r.status_code == 200 else "failing", "url": base}
    except httpx.HTTPError as exc:
        return {"status": "down", "url": base, "error": type(exc).__name__}


async def _service_health(state: ProxyState, name: str) -> tuple[str, dict[str, Any]]:
    """A service is ok while one replica is: the gateway fails over to it."""
    replicas = await asyncio.gather(
        *(_replica_health(state, url) for url in state.upstreams[name].urls)
    )
    if len(replicas) == 1:
        return name, replicas[0]
    up = sum(r["status"] == "ok" for r in replicas)
    return name, {
        "status": "ok" if up else "down",
        "replicas_ok": up,
        "replicas": replicas,
    }


@router.get("/healthz", include_in_schema=False)
async def healthz(rt: GatewayDep) -> Response:
    state = rt.state.proxy
    results = dict(await asyncio.gather(*(_service_health(state, n) for n in state.upstreams)))
    healthy = all(v["status"] == "ok" for v in results.values())
    body = {"status": "ok" if healthy else "degraded", "service": "gateway", "services": results}
    if healthy:
        return JSONResponse(body)
    return problem_response(
        503,
        "Some services are not healthy: "
        + ", ".join(n for n, v in results.items() if v["status"] != "ok"),
        errors=[
            {"field": n, "message": v["status"], "code": v["status"]} for n, v in results.items()
        ],
    )
