"""Runs the platform's services inside the test process, each a real uvicorn server on
a free loopback port, talking to the real PostgreSQL and NATS of the run."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI

from deploy.local.mailsink import MailFolder
from deploy.local.servers import free_port

T = TypeVar("T")

INTERNAL_TOKEN = "test-internal-token"


class _QuietServer(uvicorn.Server):
    # The test runner owns signals; uvicorn must not take Ctrl-C away from pytest.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class RunningService:
    name: str
    app: FastAPI
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve(name: str, app: FastAPI, port: int | None = None) -> RunningService:
    """Serve `app` on `port` (a free one unless given: the web app and the gateway each
    need the other's address before either starts)."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(), name=f"uvicorn:{name}")
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done():
            task.result()  # raises what went wrong
            raise RuntimeError(f"{name} stopped during start-up")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not start within 30 s")
        await asyncio.sleep(0.02)
    return RunningService(name, app, f"http://127.0.0.1:{port}", server, task)


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], bool] = bool,
    timeout: float = 60.0,
    interval: float = 0.05,
) -> T:
    """Poll `probe` until `until(result)` holds; fail with the last result at the deadline.

    The deadline is generous: a poll returns as soon as the condition holds, and on a
    2-core machine running the whole suite the match index can lag by tens of seconds
    (every profile is embedded before it is searchable)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s; last: {result!r}")
        await asyncio.sleep(interval)


@dataclass
class Platform:
    database_url: str
    nats_url: str
    mail: MailFolder
    services: dict[str, RunningService] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return self.services["gateway"].url

    def url(self, service: str) -> str:
        return self.services[service].url

    @contextlib.asynccontextmanager
    async def client(self, who: str | None) -> AsyncIterator[httpx.AsyncClient]:
        headers = {"authorization": f"Bearer {self.keys[who]}"} if who else {}
        async with httpx.AsyncClient(
            base_url=self.gateway_url, headers=headers, timeout=30.0
        ) as client:
            yield client

    def internal_headers(self, tenant: str, scopes: str) -> dict[str, Any]:
        return {"x-internal-token": INTERNAL_TOKEN, "x-tenant": tenant, "x-scopes": scopes}


async def mail_to(
    platform: Platform, address: str, containing: str = "", timeout: float = 20
) -> str:
    """The newest message to `address` (containing `containing`), once it has arrived."""

    async def newest() -> str:
        bodies = [
            m.get_content()
            for m in platform.mail.messages()
            if address in str(m["To"]) and containing in m.get_content()
        ]
        return bodies[-1] if bodies else ""

    return await eventually(newest, until=bool, timeout=timeout)


def link_in(body: str, page: str) -> str:
    """The token of the `page` link in a mail body."""
    import re

    match = re.search(rf"/{page}\?token=([A-Za-z0-9_-]+)", body)
    assert match, f"no {page} link in: {body}"
    return match.group(1)
