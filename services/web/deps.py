"""Typed dependencies of the web app's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.web.settings import WebSettings
from services.web.state import WebState
from shared.runtime import Runtime, runtime_of

WebRuntime = Runtime[WebSettings, WebState]


async def web_runtime(request: Request) -> WebRuntime:
    return runtime_of(request, WebSettings, WebState)


WebDep = Annotated[WebRuntime, Depends(web_runtime)]
