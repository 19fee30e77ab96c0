"""Routes: who am I, and API clients (the operator's, and each agency admin's own)."""

from __future__ import annotations

import uuid

import httpx
from fastapi import Response

from services.gateway.clients import AGENCY_SCOPES, create_client, revoke_client
from services.gateway.deps import GatewayDep, GatewayRuntime, KeyManagerDep, PrincipalDep
from services.gateway.models import ApiClient
from services.gateway.principals import Principal
from services.gateway.repository import ClientRepository
from services.gateway.schemas import ClientCreate, ClientCreated, ClientOut, Me
from shared.db.session import ANY_TENANT
from shared.identity import ADMIN_SCOPE, internal_headers
from shared.problems import Problem
from shared.routing import api_router
from shared.runtime import transaction

router = api_router(tags=["gateway"])


@router.get("/v1/me", response_model=Me)
async def me(principal: PrincipalDep) -> Me:
    """Who this credential is: an API client, or a person with their roles."""
    return Me(
        kind=principal.kind,
        client_id=None if principal.is_person else principal.id,
        person_id=principal.id if principal.is_person else None,
        tenant=principal.tenant,
        name=principal.name,
        scopes=sorted(principal.scopes),
        roles=sorted(principal.roles),
        clusters=sorted(principal.clusters),
        email=principal.email,
    )


async def tenant_name(rt: GatewayRuntime, code: str) -> str | None:
    """The tenant's name as the registry knows it; None for an unknown tenant."""
    proxy = rt.state.proxy
    registry = proxy.upstreams.get("registry")
    if registry is None:
        return code  # no registry to ask; the code's form was checked
    try:
        r = await registry.request(
            proxy.http,
            "GET",
            f"/v1/tenants/{code}",
            headers=internal_headers(proxy.internal_token, code, "registry:read"),
            timeout=httpx.Timeout(5.0, connect=1.0),
        )
    except httpx.HTTPError as exc:
        raise Problem(503, "The registry is unavailable to check the tenant.") from exc
    return str(r.json()["name"]) if r.status_code == 200 else None


def _is_operator(principal: Principal) -> bool:
    return ADMIN_SCOPE in principal.scopes


@router.post("/v1/clients", response_model=ClientCreated, status_code=201)
async def create_api_client(
    body: ClientCreate, actor: KeyManagerDep, rt: GatewayDep
) -> ClientCreated:
    """Create an API client for an agency; its key is in this answer only. An agency
    admin creates keys of their own tenant, with at most an agency's scopes."""
    if not _is_operator(actor):
        if body.tenant != actor.tenant:
            raise Problem(403, "An agency admin creates keys of their own tenant.", field="tenant")
        beyond = sorted(set(body.scopes) - set(AGENCY_SCOPES))
        if beyond:
            raise Problem(403, f"Scopes beyond an agency's: {', '.join(beyond)}.", field="scopes")
    if await tenant_name(rt, body.tenant) is None:
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
    actor: KeyManagerDep, rt: GatewayDep, tenant: str | None = None
) -> list[ApiClient]:
    """API clients (never their keys): every tenant's for the operator, optionally of
    one; an agency admin's own tenant's."""
    if not _is_operator(actor):
        tenant = actor.tenant
    async with rt.sessionmaker() as s:
        return list(await ClientRepository(s).listed(tenant))


@router.delete("/v1/clients/{client_id}", status_code=204)
async def revoke_api_client(client_id: uuid.UUID, actor: KeyManagerDep, rt: GatewayDep) -> Response:
    """Revoke a key: it stops working at once, on every gateway replica."""
    if client_id == actor.id:
        # Revoking the key in hand would lock the operator out of the API at once.
        raise Problem(
            409,
            "You cannot revoke the key you are using; use another operator key.",
            slug="own-key",
        )
    async with transaction(rt, ANY_TENANT) as s:
        client = await ClientRepository(s).get(client_id)
        if client is None or (not _is_operator(actor) and client.tenant != actor.tenant):
            raise Problem(404, "No such API client.")
        if client.revoked_at is None:
            await revoke_client(s, client)
    rt.state.proxy.authenticator.evict(client_id)
    return Response(status_code=204)
