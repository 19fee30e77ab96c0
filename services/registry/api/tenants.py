"""Routes: tenants, the partner countries' agencies and what they cover."""

from __future__ import annotations

from fastapi import Path

from services.registry.api.scopes import ADMIN, READ
from services.registry.models import Tenant
from services.registry.repository import TenantRepository
from services.registry.schemas import TenantCreate, TenantOut
from shared.problems import Problem, not_found
from shared.routing import api_router
from shared.runtime import SessionDep

router = api_router(prefix="/v1/tenants", tags=["tenants"])

TenantCode = Path(max_length=16, pattern=r"^[a-z][a-z0-9-]{0,15}$")


@router.get("", response_model=list[TenantOut], dependencies=[READ])
async def list_tenants(session: SessionDep) -> list[Tenant]:
    return await TenantRepository(session).all()


@router.get("/{code}", response_model=TenantOut, dependencies=[READ])
async def get_tenant(session: SessionDep, code: str = TenantCode) -> Tenant:
    tenant = await TenantRepository(session).get(code)
    if tenant is None:
        raise not_found("tenant")
    return tenant


@router.post("", response_model=TenantOut, status_code=201, dependencies=[ADMIN])
async def create_tenant(body: TenantCreate, session: SessionDep) -> Tenant:
    repo = TenantRepository(session)
    if await repo.get(body.code) is not None:
        raise Problem(409, f"Tenant '{body.code}' exists.", field="code")
    tenant = Tenant(
        code=body.code,
        name=body.name,
        countries=sorted(set(body.countries)),
        timezone=body.timezone,
        language=body.language,
    )
    repo.add(tenant)
    await session.flush()
    return tenant
