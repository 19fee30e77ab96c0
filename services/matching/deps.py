"""Typed dependencies of the matching routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.matching.settings import MatchingSettings
from services.matching.state import MatchingState
from shared.runtime import Runtime, runtime_of

MatchingRuntime = Runtime[MatchingSettings, MatchingState]


async def matching_runtime(request: Request) -> MatchingRuntime:
    return runtime_of(request, MatchingSettings, MatchingState)


MatchingDep = Annotated[MatchingRuntime, Depends(matching_runtime)]
