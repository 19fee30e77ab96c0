"""Start the real platform for a benchmark: embedded PostgreSQL and NATS, migrations,
and each service as its own uvicorn process, all on free loopback ports.

A helper, not a benchmark (no __main__ block)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.local.servers import EmbeddedNats, EmbeddedPostgres, free_port
from services.gateway.clients import create_client
from shared.db.engine import create_sessionmaker
from shared.db.migrations import upgrade_all

TOKEN = "bench-internal-token"


@dataclass
class BenchPlatform:
    database_url: str
    nats_url: str
    root: Path
    urls: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_service(
        self, name: str, module: str, env: dict[str, str] | None = None, port: int | None = None
    ) -> str:
        port = port or free_port()
        full_env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "NATS_URL": self.nats_url,
            "INTERNAL_TOKEN": TOKEN,
            "ENVIRONMENT": "production",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        log = (self.root / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", f"{module}:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
             "--log-level", "warning"],
            env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {self.root / (name + '.log')}")
            time.sleep(0.1)
        self.urls[name] = url
        return url

    def stop_service(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.terminate()
        proc.wait(timeout=20)

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def api_key(self, tenant: str, scopes: list[str], rate: int = 1_000_000) -> str:
        async def make() -> str:
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine(self.database_url)
            try:
                async with create_sessionmaker(engine)() as s, s.begin():
                    _, key = await create_client(
                        s, tenant=tenant, name=f"bench {tenant}", scopes=scopes,
                        rate_per_second=rate, burst=rate,
                    )  # fmt: skip
                    return key
            finally:
                await engine.dispose()

        return asyncio.run(make())


@contextlib.contextmanager
def bench_platform(fast_db: bool = False) -> Iterator[BenchPlatform]:
    root = Path(tempfile.mkdtemp(prefix="cb-bench-"))
    pg = EmbeddedPostgres(root / "pg", free_port(), fast=fast_db)
    nats = EmbeddedNats(root / "nats", free_port(), free_port())
    platform = None
    try:
        pg.start()
        nats.start()
        upgrade_all(pg.url)
        platform = BenchPlatform(pg.url, nats.url, root)
        yield platform
    finally:
        if platform is not None:
            for name in list(platform.procs):
                with contextlib.suppress(Exception):
                    platform.stop_service(name)
        nats.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
