"""Typed dependencies of the registry routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.registry.settings import RegistrySettings
from shared.runtime import Runtime, stateless_runtime_of

RegistryRuntime = Runtime[RegistrySettings, None]


async def registry_runtime(request: Request) -> RegistryRuntime:
    return stateless_runtime_of(request, RegistrySettings)


RegistryDep = Annotated[RegistryRuntime, Depends(registry_runtime)]
