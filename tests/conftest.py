"""Fixtures shared by the whole suite.

Sections (add new ones below, each under its own banner):

1. Servers: a real PostgreSQL and a real NATS with JetStream, started once per run on
   free ports (or taken from TEST_DATABASE_URL / TEST_NATS_URL).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.local.servers import (
    EmbeddedNats,
    EmbeddedPostgres,
    NatsEndpoint,
    PostgresEndpoint,
    free_port,
)

# =============================================================================
# 1. Servers
# =============================================================================


@dataclass(frozen=True)
class ExternalPostgres:
    url: str


@dataclass(frozen=True)
class ExternalNats:
    """A server we do not own: tests that need to bounce it are skipped."""

    url: str

    def start(self) -> None:
        pytest.skip("TEST_NATS_URL points at an external NATS; cannot start it")

    def stop(self) -> None:
        pytest.skip("TEST_NATS_URL points at an external NATS; cannot stop it")

    def restart(self) -> None:
        pytest.skip("TEST_NATS_URL points at an external NATS; cannot restart it")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresEndpoint]:
    """PostgreSQL for the run, tuned for speed (no fsync): data is thrown away after."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield ExternalPostgres(external)
        return
    # Not tmp_path_factory: pytest keeps its base temp folder 0700 for root, and when we
    # run as root the server runs as an unprivileged user who must traverse to its data.
    root = Path(tempfile.mkdtemp(prefix="cb-test-pg-"))
    server = EmbeddedPostgres(root / "data", free_port(), fast=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsEndpoint]:
    """NATS with JetStream for the run; `restart()` proves consumers catch up."""
    external = os.environ.get("TEST_NATS_URL")
    if external:
        yield ExternalNats(external)
        return
    root = tmp_path_factory.mktemp("nats")
    # A monitoring port so start-up waits on /healthz, i.e. until JetStream is ready.
    server = EmbeddedNats(root / "store", free_port(), free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()


# =============================================================================
# 2. The platform: migrated database, services served in-process, API keys
# =============================================================================

import asyncio  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from deploy.local.mailsink import MailFolder, mail_sink  # noqa: E402
from services.events.main import EventsSettings  # noqa: E402
from services.events.main import create_app as create_events  # noqa: E402
from services.gateway.clients import AGENCY_SCOPES, create_client  # noqa: E402
from services.gateway.main import GatewaySettings  # noqa: E402
from services.gateway.main import create_app as create_gateway  # noqa: E402
from services.matching.main import MatchingSettings  # noqa: E402
from services.matching.main import create_app as create_matching  # noqa: E402
from services.registry.main import RegistrySettings  # noqa: E402
from services.registry.main import create_app as create_registry  # noqa: E402
from services.web.main import WebSettings  # noqa: E402
from services.web.main import create_app as create_web  # noqa: E402
from shared.db.engine import create_sessionmaker  # noqa: E402
from shared.db.migrations import upgrade_all  # noqa: E402
from tests.harness import INTERNAL_TOKEN, Platform, serve  # noqa: E402

# Keys the tests use: one agency per tenant they need, an operator, and a read-only key.
TEST_CLIENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "operator": ("eu", ("admin",)),
    "eu": ("eu", AGENCY_SCOPES),
    "jp": ("jp", AGENCY_SCOPES),
    "br": ("br", AGENCY_SCOPES),
    "kr": ("kr", AGENCY_SCOPES),
    "jp_readonly": ("jp", ("registry:read", "matching:read", "events:read")),
}


@pytest.fixture(scope="session")
async def database_url(postgres: PostgresEndpoint) -> str:
    await asyncio.to_thread(upgrade_all, postgres.url)
    return postgres.url


@pytest.fixture(scope="session")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MailFolder, str]]:
    """A real SMTP server for the run; every message lands in a folder the tests read."""
    port = free_port()
    with mail_sink(tmp_path_factory.mktemp("mail"), port) as folder:
        yield folder, f"smtp://127.0.0.1:{port}"


@pytest.fixture(scope="session")
async def platform(
    database_url: str, nats_server: NatsEndpoint, mailbox: tuple[MailFolder, str]
) -> AsyncIterator[Platform]:
    common: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_server.url,
        "internal_token": INTERNAL_TOKEN,
        "environment": "test",
        "outbox_poll_seconds": 0.2,
    }
    p = Platform(database_url=database_url, nats_url=nats_server.url, mail=mailbox[0])
    p.services["registry"] = await serve("registry", create_registry(RegistrySettings(**common)))
    p.services["events"] = await serve("events", create_events(EventsSettings(**common)))
    p.services["matching"] = await serve(
        "matching",
        create_matching(MatchingSettings(**common, registry_url=p.url("registry"))),
    )
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    p.services["web"] = await serve(
        "web",
        create_web(
            WebSettings(**common, gateway_url=gateway_url, public_url=gateway_url, page_size=10)
        ),
    )
    p.services["gateway"] = await serve(
        "gateway",
        create_gateway(
            GatewaySettings(
                **common,
                registry_url=p.url("registry"),
                events_url=p.url("events"),
                matching_url=p.url("matching"),
                web_url=p.url("web"),
                public_url=gateway_url,
                rate_per_second=10_000,
                rate_burst=10_000,
                smtp_url=mailbox[1],
                # Failed sign-ins still slow down and lock, by milliseconds here.
                sign_in_delay_base=0.001,
            )
        ),
        port=gateway_port,
    )
    engine = create_async_engine(database_url)
    async with create_sessionmaker(engine)() as s, s.begin():
        for who, (tenant, scopes) in TEST_CLIENTS.items():
            _, key = await create_client(s, tenant=tenant, name=f"test {who}", scopes=scopes)
            p.keys[who] = key
    await engine.dispose()
    try:
        yield p
    finally:
        for service in reversed(list(p.services.values())):
            await service.stop()
