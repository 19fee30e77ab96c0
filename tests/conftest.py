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
