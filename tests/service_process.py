"""A service as its own uvicorn process, configured only through its environment (as
deployed), logging to a file the test reads. For tests that need what one process
cannot share with others: its own logging set-up and OpenTelemetry variables."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy.local.servers import free_port
from tests.harness import eventually


@dataclass
class ServiceProcess:
    name: str
    url: str
    log_path: Path
    process: asyncio.subprocess.Process

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    async def stop(self) -> None:
        """SIGTERM: the lifespan runs to its end (buffered spans are exported)."""
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_service(
    name: str, module: str, env: dict[str, str], log_dir: Path
) -> ServiceProcess:
    port = free_port()
    log_path = log_dir / f"{name}.log"
    # Only what the test names, over a clean copy: an OTEL_* variable of the developer's
    # shell must not change what the test sees.
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", f"{module}:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "--log-level", "warning",
            env={**base, **env}, stdout=log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    service = ServiceProcess(name, f"http://127.0.0.1:{port}", log_path, process)

    async def healthy() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"{name} exited: {log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            async with httpx.AsyncClient(timeout=1.0) as client:
                return (await client.get(f"{service.url}/healthz")).status_code == 200
        return False

    try:
        await eventually(healthy, timeout=120)
    except BaseException:
        await service.stop()
        raise
    return service
