"""A small real HTTP server that receives webhooks, for the tests: it keeps every
request (headers and raw body) and answers with the status it is told to."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from deploy.local.servers import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    status: int = 200
    answer: str | None = None  # the body it answers with; "answered <status>" if None
    # While set, requests are taken in but not answered until it is released.
    hold: asyncio.Event | None = None
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/clusterbridge"

    async def _take(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), await request.read()))
        if self.hold is not None:
            await self.hold.wait()
        text = self.answer if self.answer is not None else f"answered {self.status}"
        return web.Response(status=self.status, text=text)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/clusterbridge", self._take)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.received if r.json["type"] == event_type]
