"""Routes: the people of a tenant (invitations, roles, deactivation), for its agency
admins and the operator."""

from __future__ import annotations

import uuid

import httpx
from fastapi import Response

from services.gateway import people
from services.gateway.api.clients import tenant_name
from services.gateway.deps import GatewayDep, GatewayRuntime, PrincipalDep
from services.gateway.models import Person
from services.gateway.principals import Principal
from services.gateway.repository import PeopleRepository
from services.gateway.schemas import PersonInvite, PersonOut, PersonPatch
from shared.db.session import ANY_TENANT
from shared.identity import ADMIN_SCOPE, internal_headers
from shared.problems import Problem
from shared.routing import api_router
from shared.runtime import transaction

router = api_router(prefix="/v1/people", tags=["people"])


def present(person: Person) -> PersonOut:
    return PersonOut.model_validate(person, from_attributes=True)


def _tenant_for(actor: Principal, requested: str | None) -> str:
    if ADMIN_SCOPE in actor.scopes:
        if requested is None:
            raise Problem(422, "Name the tenant the person belongs to.", field="tenant")
        return requested
    if requested not in (None, actor.tenant):
        raise Problem(403, "An agency admin invites people of their own tenant.", field="tenant")
    return actor.tenant


async def _check_clusters(rt: GatewayRuntime, tenant: str, clusters: list[uuid.UUID]) -> None:
    """Each managed cluster must exist and belong to the person's tenant."""
    proxy = rt.state.proxy
    registry = proxy.upstreams.get("registry")
    if registry is None or not clusters:
        return
    headers = internal_headers(proxy.internal_token, tenant, "registry:read")
    for cluster_id in clusters:
        try:
            r = await registry.request(
                proxy.http, "GET", f"/v1/clusters/{cluster_id}", headers=headers
            )
        except httpx.HTTPError as exc:
            raise Problem(503, "The registry is unavailable to check the clusters.") from exc
        if r.status_code != 200 or r.json().get("tenant") != tenant:
            raise Problem(
                422,
                f"Cluster {cluster_id} is not a cluster of tenant '{tenant}'.",
                field="clusters",
            )


async def _person(rt: GatewayRuntime, actor: Principal, person_id: uuid.UUID) -> Person:
    async with rt.sessionmaker() as s:
        person = await PeopleRepository(s).get(person_id)
    # Another tenant's people do not exist for an agency admin.
    if person is None or (ADMIN_SCOPE not in actor.scopes and person.tenant != actor.tenant):
        raise Problem(404, "No such person.")
    people.require_people_admin(actor, person.tenant)
    return person


@router.post("", response_model=PersonOut, status_code=201)
async def invite_person(body: PersonInvite, actor: PrincipalDep, rt: GatewayDep) -> PersonOut:
    """Invite someone by e-mail, with their roles (and a cluster manager's clusters);
    the mail holds a link to choose a password."""
    tenant = _tenant_for(actor, body.tenant)
    people.require_people_admin(actor, tenant)
    name = await tenant_name(rt, tenant)
    if name is None:
        raise Problem(422, f"Unknown tenant '{tenant}'.", field="tenant")
    await _check_clusters(rt, tenant, body.clusters)
    async with transaction(rt, ANY_TENANT) as s:
        person, _ = await people.invite(
            s,
            rt.state.links,
            actor,
            tenant=tenant,
            tenant_name=name,
            email=str(body.email),
            name=body.name,
            roles=list(body.roles),
            clusters=body.clusters,
        )
    rt.state.mail.wake()
    return present(person)


@router.get("", response_model=list[PersonOut])
async def list_people(
    actor: PrincipalDep, rt: GatewayDep, tenant: str | None = None
) -> list[PersonOut]:
    """The people of your tenant (the operator: of any, or all)."""
    if ADMIN_SCOPE not in actor.scopes:
        tenant = actor.tenant
        people.require_people_admin(actor, tenant)
    async with rt.sessionmaker() as s:
        return [present(p) for p in await PeopleRepository(s).of_tenant(tenant)]


@router.get("/{person_id}", response_model=PersonOut)
async def get_person(person_id: uuid.UUID, actor: PrincipalDep, rt: GatewayDep) -> PersonOut:
    return present(await _person(rt, actor, person_id))


@router.patch("/{person_id}", response_model=PersonOut)
async def change_person(
    person_id: uuid.UUID, body: PersonPatch, actor: PrincipalDep, rt: GatewayDep
) -> PersonOut:
    """Change a person's name, roles or managed clusters (effective within a second)."""
    person = await _person(rt, actor, person_id)
    if body.clusters is not None:
        await _check_clusters(rt, person.tenant, body.clusters)
    async with transaction(rt, ANY_TENANT) as s:
        locked = await PeopleRepository(s).get(person.id, lock=True)
        assert locked is not None
        await people.change(
            s,
            actor,
            locked,
            name=body.name,
            roles=list(body.roles) if body.roles is not None else None,
            clusters=body.clusters,
        )
    rt.state.proxy.sessions.evict(person_id=person.id)
    return present(locked)


async def _set_active(
    person_id: uuid.UUID, actor: Principal, rt: GatewayRuntime, active: bool
) -> PersonOut:
    person = await _person(rt, actor, person_id)
    async with transaction(rt, ANY_TENANT) as s:
        locked = await PeopleRepository(s).get(person.id, lock=True)
        assert locked is not None
        await people.set_active(s, actor, locked, active)
    rt.state.proxy.sessions.evict(person_id=person.id)
    return present(locked)


@router.post("/{person_id}/deactivate", response_model=PersonOut)
async def deactivate_person(person_id: uuid.UUID, actor: PrincipalDep, rt: GatewayDep) -> PersonOut:
    """Sign them out everywhere; they cannot sign in until reactivated."""
    return await _set_active(person_id, actor, rt, active=False)


@router.post("/{person_id}/activate", response_model=PersonOut)
async def activate_person(person_id: uuid.UUID, actor: PrincipalDep, rt: GatewayDep) -> PersonOut:
    return await _set_active(person_id, actor, rt, active=True)


@router.post("/{person_id}/invitation", status_code=204)
async def resend_invitation(person_id: uuid.UUID, actor: PrincipalDep, rt: GatewayDep) -> Response:
    """Send a new invitation link (the earlier ones stop working)."""
    person = await _person(rt, actor, person_id)
    name = await tenant_name(rt, person.tenant) or person.tenant
    async with transaction(rt, ANY_TENANT) as s:
        locked = await PeopleRepository(s).get(person.id, lock=True)
        assert locked is not None
        await people.resend_invitation(s, rt.state.links, actor, locked, name)
    rt.state.mail.wake()
    return Response(status_code=204)
