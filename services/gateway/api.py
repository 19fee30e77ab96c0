"""The gateway's own routes: who am I, API clients (operators), docs and health."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select

from services.gateway.clients import AuthenticatedClient, create_client, revoke_client
from services.gateway.credentials import BearerRefused, bearer_token
from services.gateway.models import ApiClient
from services.gateway.proxy import ProxyState
from services.gateway.schemas import ClientCreate, ClientCreated, ClientOut, Me
from shared.identity import ADMIN_SCOPE, INTERNAL_TOKEN_HEADER
from shared.problems import Problem, problem_response
from shared.routing import api_router
from shared.runtime import Runtime, RuntimeDep

router = api_router()


def _proxy_state(rt: Runtime) -> ProxyState:
    state: ProxyState = rt.extras["proxy"]
    return state


async def authenticated(request: Request, rt: RuntimeDep) -> AuthenticatedClient:
    try:
        token = bearer_token(request.scope["headers"])
    except BearerRefused as exc:
        raise Problem(400, str(exc), field="Authorization", slug="bad-credentials") from exc
    client = await _proxy_state(rt).authenticator.authenticate(token) if token else None
    if client is None:
        raise Problem(
            401,
            "Send a valid API key as 'Authorization: Bearer <key>'."
            if token is None
            else "This API key is not valid or has been revoked.",
            headers={"WWW-Authenticate": 'Bearer realm="clusterbridge"'},
            slug="unauthorized",
        )
    return client


ClientDep = Annotated[AuthenticatedClient, Depends(authenticated)]


async def operator(client: ClientDep) -> AuthenticatedClient:
    if ADMIN_SCOPE not in client.scopes:
        raise Problem(
            403, "Only the platform operator manages API clients.", slug="insufficient-scope"
        )
    return client


OperatorDep = Annotated[AuthenticatedClient, Depends(operator)]


@router.get("/v1/me", response_model=Me, tags=["gateway"])
async def me(client: ClientDep) -> Me:
    return Me(
        client_id=client.id, tenant=client.tenant, name=client.name, scopes=sorted(client.scopes)
    )


async def _tenant_exists(rt: Runtime, code: str) -> bool:
    state = _proxy_state(rt)
    base = state.upstreams.get("registry")
    if base is None:
        return True  # no registry to ask; the code's form was checked
    try:
        r = await state.http.get(
            f"{base}/v1/tenants/{code}",
            headers={
                INTERNAL_TOKEN_HEADER: state.internal_token,
                "x-tenant": code,
                "x-scopes": "registry:read",
            },
            timeout=httpx.Timeout(5.0, connect=1.0),
        )
    except httpx.HTTPError as exc:
        raise Problem(503, "The registry is unavailable to check the tenant.") from exc
    return r.status_code == 200


@router.post("/v1/clients", response_model=ClientCreated, status_code=201, tags=["gateway"])
async def create_api_client(body: ClientCreate, _: OperatorDep, rt: RuntimeDep) -> ClientCreated:
    if not await _tenant_exists(rt, body.tenant):
        raise Problem(422, f"Unknown tenant '{body.tenant}'.", field="tenant")
    async with rt.sessionmaker() as s, s.begin():
        try:
            client, key = await create_client(
                s, tenant=body.tenant, name=body.name, scopes=body.scopes,
                rate_per_second=body.rate_per_second, burst=body.burst,
            )  # fmt: skip
        except ValueError as exc:
            raise Problem(422, str(exc), field="scopes") from exc
    if rt.relay is not None:
        rt.relay.wake()
    return ClientCreated(
        **ClientOut.model_validate(client, from_attributes=True).model_dump(), api_key=key
    )


@router.get("/v1/clients", response_model=list[ClientOut], tags=["gateway"])
async def list_api_clients(
    _: OperatorDep, rt: RuntimeDep, tenant: str | None = None
) -> list[ApiClient]:
    async with rt.sessionmaker() as s:
        stmt = select(ApiClient).order_by(ApiClient.created_at)
        if tenant:
            stmt = stmt.where(ApiClient.tenant == tenant)
        return list((await s.scalars(stmt)).all())


@router.delete("/v1/clients/{client_id}", status_code=204, tags=["gateway"])
async def revoke_api_client(
    client_id: uuid.UUID, operator: OperatorDep, rt: RuntimeDep
) -> Response:
    if client_id == operator.id:
        # Revoking the key in hand would lock the operator out of the API at once.
        raise Problem(409, "You cannot revoke the key you are using; use another operator key.",
                      slug="own-key")  # fmt: skip
    async with rt.sessionmaker() as s, s.begin():
        client = await s.get(ApiClient, client_id)
        if client is None:
            raise Problem(404, "No such API client.")
        if client.revoked_at is None:
            await revoke_client(s, client)
    _proxy_state(rt).authenticator.evict(client_id)
    if rt.relay is not None:
        rt.relay.wake()
    return Response(status_code=204)


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, rt: RuntimeDep) -> JSONResponse:
    state = _proxy_state(rt)
    doc = await rt.extras["openapi"].get(
        state.http, state.upstreams, state.internal_token, request.app.openapi()
    )
    return JSONResponse(doc)


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Clusterbridge API")


async def _service_health(state: ProxyState, name: str, base: str) -> tuple[str, dict[str, Any]]:
    try:
        r = await state.http.get(f"{base}/healthz", timeout=httpx.Timeout(2.0, connect=0.5))
        return name, {"status": "ok" if r.status_code == 200 else "failing", "url": base}
    except httpx.HTTPError as exc:
        return name, {"status": "down", "url": base, "error": type(exc).__name__}


@router.get("/healthz", include_in_schema=False)
async def healthz(rt: RuntimeDep) -> Response:
    state = _proxy_state(rt)
    results = dict(
        await asyncio.gather(*(_service_health(state, n, b) for n, b in state.upstreams.items()))
    )
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
