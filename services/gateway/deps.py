"""Typed dependencies of the gateway's own routes: its runtime, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway import webhooks
from services.gateway.credentials import BearerRefused, Credential, credential
from services.gateway.principals import CLIENTS_MANAGE, Principal
from services.gateway.settings import GatewaySettings
from services.gateway.state import GatewayState
from shared.identity import ADMIN_SCOPE
from shared.problems import Problem
from shared.runtime import Runtime, runtime_of

GatewayRuntime = Runtime[GatewaySettings, GatewayState]


async def gateway_runtime(request: Request) -> GatewayRuntime:
    return runtime_of(request, GatewaySettings, GatewayState)


GatewayDep = Annotated[GatewayRuntime, Depends(gateway_runtime)]


async def resolve(rt: GatewayRuntime, found: Credential) -> Principal | None:
    """The principal of an API key or a session id, or None when it does not check out."""
    proxy = rt.state.proxy
    if found.kind == "key":
        return await proxy.authenticator.authenticate(found.secret)
    return await proxy.sessions.resolve(found.secret)


def credential_of(request: Request) -> Credential | None:
    try:
        return credential(request.scope["headers"])
    except BearerRefused as exc:
        raise Problem(400, str(exc), field="Authorization", slug="bad-credentials") from exc


async def authenticated(request: Request, rt: GatewayDep) -> Principal:
    found = credential_of(request)
    principal = await resolve(rt, found) if found else None
    if principal is None:
        raise Problem(
            401,
            "Send a valid API key as 'Authorization: Bearer <key>', or sign in."
            if found is None
            else "This credential is not valid, has expired, or has been revoked.",
            headers={"WWW-Authenticate": 'Bearer realm="clusterbridge"'},
            slug="unauthorized",
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticated)]
# The name the API-client routes always used.
ClientDep = PrincipalDep


async def signed_in(request: Request, principal: PrincipalDep) -> tuple[Principal, str]:
    """A person and their session id (for signing out)."""
    found = credential_of(request)
    if not principal.is_person or found is None:
        raise Problem(403, "Only a person signed in can do this.", slug="not-a-person")
    return principal, found.secret


SignedInDep = Annotated[tuple[Principal, str], Depends(signed_in)]


async def operator(client: PrincipalDep) -> Principal:
    if ADMIN_SCOPE not in client.scopes:
        raise Problem(
            403, "Only the platform operator manages API clients.", slug="insufficient-scope"
        )
    return client


OperatorDep = Annotated[Principal, Depends(operator)]


async def key_manager(principal: PrincipalDep) -> Principal:
    """The operator (any tenant), or an agency admin (their own tenant's keys)."""
    if ADMIN_SCOPE in principal.scopes or CLIENTS_MANAGE in principal.scopes:
        return principal
    raise Problem(
        403,
        "Only the operator or an agency admin manages API keys.",
        slug="insufficient-scope",
    )


KeyManagerDep = Annotated[Principal, Depends(key_manager)]


async def webhook_manager(principal: PrincipalDep) -> Principal:
    """An API key with webhooks:manage, an agency admin, or the operator."""
    webhooks.require_manager(principal)
    return principal


WebhookManagerDep = Annotated[Principal, Depends(webhook_manager)]
