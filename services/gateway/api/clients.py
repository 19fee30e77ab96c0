"""Routes: who am I, and the operator's API clients."""

from __future__ import annotations

import uuid

import httpx
from fastapi import Response

from services.gateway.clients import create_client, revoke_client
from services.gateway.deps import ClientDep, GatewayDep, GatewayRuntime, OperatorDep
from services.gateway.models import ApiClient
from services.gateway.repository import ClientRepository
from services.gateway.schemas import ClientCreate, ClientCreated, ClientOut, Me
from shared.db.session import ANY_TENANT
from shared.identity import internal_headers
from shared.problems import Problem
from shared.routing import api_router
from shared.runtime import transaction

router = api_router(tags=["gateway"])


@router.get("/v1/me", response_model=Me)
async def me(client: ClientDep) -> Me:
    """The API client this key belongs to: its tenant and scopes."""
    return Me(
        client_id=client.id, tenant=client.tenant, name=client.name, scopes=sorted(client.scopes)
    )


async def _tenant_exists(rt: GatewayRuntime, code: str) -> bool:
    proxy = rt.state.proxy
    base = proxy.upstreams.get("registry")
    if base is None:
        return True  # no registry to ask; the code's form was checked
    try:
        r = await proxy.http.get(
            f"{base}/v1/tenants/{code}",
            headers=internal_headers(proxy.internal_token, code, "registry:read"),
            timeout=httpx.Timeout(5.0, connect=1.0),
        )
    except httpx.HTTPError as exc:
        raise Problem(503, "The registry is unavailable to check the tenant.") from exc
    return r.status_code == 200


@router.post("/v1/clients", response_model=ClientCreated, status_code=201)
async def create_api_client(body: ClientCreate, _: OperatorDep, rt: GatewayDep) -> ClientCreated:
    """Create an API client for an agency; its key is in this answer only."""
    if not await _tenant_exists(rt, body.tenant):
        raise Problem(422, f"Unknown tenant '{body.tenant}'.", field="tenant")
    async with transaction(rt, ANY_TENANT) as s:
        try:
            client, key = await create_client(
                s,
                tenant=body.tenant,
                name=body.name,
                scopes=body.scopes,
                rate_per_second=body.rate_per_second,
                burst=body.burst,
            )
        except ValueError as exc:
            raise Problem(422, str(exc), field="scopes") from exc
    return ClientCreated(
        **ClientOut.model_validate(client, from_attributes=True).model_dump(), api_key=key
    )


@router.get("/v1/clients", response_model=list[ClientOut])
async def list_api_clients(
    _: OperatorDep, rt: GatewayDep, tenant: str | None = None
) -> list[ApiClient]:
    """Every API client (never its key), optionally of one tenant."""
    async with rt.sessionmaker() as s:
        return list(await ClientRepository(s).listed(tenant))


@router.delete("/v1/clients/{client_id}", status_code=204)
async def revoke_api_client(
    client_id: uuid.UUID, operator: OperatorDep, rt: GatewayDep
) -> Response:
    """Revoke a key: it stops working at once on this gateway."""
    if client_id == operator.id:
        # Revoking the key in hand would lock the operator out of the API at once.
        raise Problem(
            409,
            "You cannot revoke the key you are using; use another operator key.",
            slug="own-key",
        )
    async with transaction(rt, ANY_TENANT) as s:
        client = await ClientRepository(s).get(client_id)
        if client is None:
            raise Problem(404, "No such API client.")
        if client.revoked_at is None:
            await revoke_client(s, client)
    rt.state.proxy.authenticator.evict(client_id)
    return Response(status_code=204)
