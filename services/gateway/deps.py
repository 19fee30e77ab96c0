"""Typed dependencies of the gateway's own routes: its runtime, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.clients import AuthenticatedClient
from services.gateway.credentials import BearerRefused, bearer_token
from services.gateway.settings import GatewaySettings
from services.gateway.state import GatewayState
from shared.identity import ADMIN_SCOPE
from shared.problems import Problem
from shared.runtime import Runtime, runtime_of

GatewayRuntime = Runtime[GatewaySettings, GatewayState]


async def gateway_runtime(request: Request) -> GatewayRuntime:
    return runtime_of(request, GatewaySettings, GatewayState)


GatewayDep = Annotated[GatewayRuntime, Depends(gateway_runtime)]


async def authenticated(request: Request, rt: GatewayDep) -> AuthenticatedClient:
    try:
        token = bearer_token(request.scope["headers"])
    except BearerRefused as exc:
        raise Problem(400, str(exc), field="Authorization", slug="bad-credentials") from exc
    client = await rt.state.proxy.authenticator.authenticate(token) if token else None
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
