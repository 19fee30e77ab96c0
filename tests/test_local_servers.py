"""The embedded servers the suite and `make run` stand on behave like real ones."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import psutil
import pytest
from nats.js.api import StreamConfig
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from deploy.local.cli import app as stack_cli
from deploy.local.servers import EmbeddedPostgres, NatsEndpoint, PostgresEndpoint, free_port
from deploy.local.stack import Component, StackError, StackPorts, StackState


async def scalar(url: str, sql: str) -> object:
    """One statement on a fresh asyncpg connection (through SQLAlchemy, which is typed)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


@pytest.fixture
def private_postgres_dir() -> Iterator[Path]:
    # mkdtemp rather than tmp_path: see the `postgres` fixture in conftest.
    root = Path(tempfile.mkdtemp(prefix="cb-test-pg-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_postgres_accepts_a_query(postgres: PostgresEndpoint) -> None:
    assert await scalar(postgres.url, "SELECT 1") == 1
    assert await scalar(postgres.url, "SELECT current_database()") == "clusterbridge"
    assert await scalar(postgres.url, "SHOW server_encoding") == "UTF8"


async def test_postgres_data_survives_stop_and_start(private_postgres_dir: Path) -> None:
    server = EmbeddedPostgres(private_postgres_dir / "data", free_port(), fast=True)
    try:
        server.start()
        await scalar(server.url, "CREATE TABLE survivor (name text)")
        await scalar(server.url, "INSERT INTO survivor VALUES ('still here')")
        first_pid = server.pid
        server.stop()
        assert not server.is_running()

        # A crash leaves postmaster.pid behind; a dead pid in it must not block start.
        (server.data_dir / "postmaster.pid").write_text("999999\n")
        server.start()
        assert server.pid != first_pid
        assert await scalar(server.url, "SELECT name FROM survivor") == "still here"
    finally:
        server.stop()


async def test_nats_jetstream_accepts_a_publish(nats_server: NatsEndpoint) -> None:
    stream = f"T{uuid.uuid4().hex[:12].upper()}"
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=stream, subjects=[f"{stream.lower()}.>"]))
        ack = await js.publish(f"{stream.lower()}.hello", b"{}", headers={"Nats-Msg-Id": "m1"})
        assert ack.stream == stream
        assert ack.seq == 1
        # The same Nats-Msg-Id again is recognised as a duplicate, not stored twice.
        again = await js.publish(f"{stream.lower()}.hello", b"{}", headers={"Nats-Msg-Id": "m1"})
        assert again.duplicate
        await js.delete_stream(stream)
    finally:
        await nc.close()


async def test_nats_restart_on_same_port_keeps_stream_data(nats_server: NatsEndpoint) -> None:
    stream = f"T{uuid.uuid4().hex[:12].upper()}"
    subject = f"{stream.lower()}.kept"
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=stream, subjects=[f"{stream.lower()}.>"]))
        await js.publish(subject, b"before restart")
    finally:
        await nc.close()

    nats_server.restart()

    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        assert info.state.messages == 1
        msg = await js.get_msg(stream, seq=1)
        assert msg.data == b"before restart"
        await js.delete_stream(stream)
    finally:
        await nc.close()


# --- `clusterbridge stack status --json`: the contract tools/fresh-clone-check reads


def write_stack_state(data_dir: Path, components: list[Component]) -> None:
    me = psutil.Process()
    StackState(
        supervisor_pid=me.pid,
        supervisor_create_time=me.create_time(),
        data_dir=str(data_dir),
        started_at="2026-01-01T00:00:00+00:00",
        phase="running",
        components=components,
    ).save(data_dir / "stack.json")


def test_stack_status_json_reports_each_component_healthy(
    tmp_path: Path, postgres: PostgresEndpoint, nats_server: NatsEndpoint
) -> None:
    write_stack_state(
        tmp_path,
        [
            Component("postgres", "postgres", postgres.url),
            Component("nats", "nats", nats_server.url),
        ],
    )
    result = CliRunner().invoke(stack_cli, ["status", "--json", "--data-dir", str(tmp_path)])
    payload = json.loads(result.stdout)
    assert [(c["name"], c["healthy"]) for c in payload["components"]] == [
        ("postgres", True),
        ("nats", True),
    ]
    assert all({"name", "pid", "url", "healthy"} <= c.keys() for c in payload["components"])
    assert [(c["state"], c["restarts"], c["last_exit"]) for c in payload["components"]] == [
        ("running", 0, None),
        ("running", 0, None),
    ]
    assert result.exit_code == 0


def test_stack_status_fails_when_a_component_is_down(tmp_path: Path) -> None:
    write_stack_state(tmp_path, [Component("gateway", "http", f"http://127.0.0.1:{free_port()}")])
    result = CliRunner().invoke(stack_cli, ["status", "--json", "--data-dir", str(tmp_path)])
    payload = json.loads(result.stdout)
    assert payload["components"][0]["healthy"] is False
    assert result.exit_code == 1


def test_stack_status_without_a_stack_is_empty_and_fails(tmp_path: Path) -> None:
    result = CliRunner().invoke(stack_cli, ["status", "--json", "--data-dir", str(tmp_path)])
    assert json.loads(result.stdout)["components"] == []
    assert result.exit_code == 1


# --- ports: `make run` keeps its defaults, a test asks for free ones


def test_stack_ports_default_to_make_runs_and_follow_the_environment() -> None:
    assert StackPorts.from_env({}) == StackPorts(8000, 8001, 8002, 8003, 54329, 4229, 8229)
    ports = StackPorts.from_env(
        {"CLUSTERBRIDGE_GATEWAY_PORT": "18000", "CLUSTERBRIDGE_NATS_PORT": "0"}, registry=18001
    )
    assert (ports.gateway, ports.registry, ports.nats, ports.postgres) == (18000, 18001, 0, 54329)
    resolved = ports.resolved()
    assert resolved.nats not in (0, 4229)  # a free port, chosen once
    assert resolved.resolved() == resolved
    with pytest.raises(StackError, match="CLUSTERBRIDGE_EVENTS_PORT"):
        StackPorts.from_env({"CLUSTERBRIDGE_EVENTS_PORT": "eighty"})
    with pytest.raises(StackError, match="out of range"):
        StackPorts.from_env({}, postgres=70000)


def test_free_ports_stay_out_of_the_range_outgoing_connections_use() -> None:
    """An outgoing connection takes its local port from the kernel's ephemeral range; a
    port chosen there could be gone before the server that was given it binds it (a
    CI run failed so). Nor may one process hand the same port out twice."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports), "a port was handed out twice"
    assert all(p < low for p in ports), [p for p in ports if p >= low]
