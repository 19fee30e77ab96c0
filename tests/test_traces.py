"""OpenTelemetry across the hop, against a real OTLP/HTTP receiver.

The traced services run as their own processes, configured only by the standard
variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME), on a database and a NATS
server of their own: the suite's services share the durable consumers of the suite's
NATS, and would take some of the events away. The off path is checked on the suite's
own platform, which runs with nothing configured.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.local.servers import EmbeddedNats, PostgresEndpoint, free_port
from services.gateway.clients import AGENCY_SCOPES, create_client
from shared.contracts import registry as registry_contract
from shared.db.engine import create_sessionmaker
from shared.db.migrations import upgrade_all
from shared.telemetry.asgi import TracedRequests
from shared.telemetry.telemetry import REQUEST_ID_ATTRIBUTE
from tests.harness import INTERNAL_TOKEN, Platform, eventually
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.registry_helpers import cluster_payload
from tests.service_process import ServiceProcess, start_service

pytestmark = pytest.mark.slow

GATEWAY = "traced-gateway"
REGISTRY = "traced-registry"
MATCHING = "traced-matching"


@dataclass
class Traced:
    receiver: OtlpReceiver
    services: dict[str, ServiceProcess]
    keys: dict[str, str]

    @property
    def gateway(self) -> str:
        return self.services["gateway"].url


@pytest.fixture(scope="module")
async def traced(postgres: PostgresEndpoint) -> AsyncIterator[Traced]:
    name = f"traces_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(postgres.url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres.url).set(database=name).render_as_string(hide_password=False)
    root = Path(tempfile.mkdtemp(prefix="cb-traces-"))
    nats = EmbeddedNats(root / "nats", free_port(), free_port())
    receiver = OtlpReceiver()
    services: dict[str, ServiceProcess] = {}
    try:
        await asyncio.to_thread(upgrade_all, url)
        await asyncio.to_thread(nats.start)
        await receiver.start()
        keys: dict[str, str] = {}
        engine = create_async_engine(url)
        async with create_sessionmaker(engine)() as s, s.begin():
            for tenant in ("jp", "br"):
                _, keys[tenant] = await create_client(
                    s, tenant=tenant, name=f"traces {tenant}", scopes=AGENCY_SCOPES
                )
        await engine.dispose()
        common = {
            "DATABASE_URL": url,
            "NATS_URL": nats.url,
            "INTERNAL_TOKEN": INTERNAL_TOKEN,
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "DEBUG",
            "PYTHONUNBUFFERED": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            # Export soon after a span ends, and metrics twice a second, so the test's
            # polls are short; the values are the SDK's own variables.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
        }
        services["registry"] = await start_service(
            "registry", "services.registry.main", {**common, "OTEL_SERVICE_NAME": REGISTRY}, root
        )
        services["matching"] = await start_service(
            "matching",
            "services.matching.main",
            {**common, "OTEL_SERVICE_NAME": MATCHING, "EMBEDDING_MODEL": "none",
             "REGISTRY_URL": services["registry"].url},
            root,
        )  # fmt: skip
        services["gateway"] = await start_service(
            "gateway",
            "services.gateway.main",
            {**common, "OTEL_SERVICE_NAME": GATEWAY,
             "REGISTRY_URL": services["registry"].url,
             "MATCHING_URL": services["matching"].url,
             "RATE_PER_SECOND": "10000", "RATE_BURST": "10000"},
            root,
        )  # fmt: skip
        yield Traced(receiver, services, keys)
    finally:
        for service in reversed(list(services.values())):
            await service.stop()
        await receiver.stop()
        await asyncio.to_thread(nats.stop)
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


def _cluster() -> dict[str, Any]:
    body = cluster_payload("jp")
    del body["label"]  # labels need registry:verify, which these keys do not have
    return body


def _one(spans: list[ReceivedSpan], what: str, **match: Any) -> ReceivedSpan:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, f"{what}: expected one span matching {match}, got {found}"
    return found[0]


def _log_records(service: ServiceProcess) -> list[dict[str, Any]]:
    records = []
    for line in service.log_lines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # uvicorn's own start-up lines
        if isinstance(record, dict):
            records.append(record)
    return records


async def test_one_trace_runs_from_the_gateway_through_nats_to_the_consumers(
    traced: Traced,
) -> None:
    request_id = f"traces-{uuid.uuid4().hex}"
    # A client's own trace context: the gateway links it, never continues it.
    client_trace, client_span = secrets.token_hex(16), secrets.token_hex(8)
    headers = {
        "authorization": f"Bearer {traced.keys['jp']}",
        "x-request-id": request_id,
        "traceparent": f"00-{client_trace}-{client_span}-01",
    }
    async with httpx.AsyncClient(base_url=traced.gateway, timeout=30) as c:
        r = await c.post("/v1/clusters", json=_cluster(), headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] == request_id

    def of_request() -> list[ReceivedSpan]:
        return [
            s for s in traced.receiver.spans if s.attributes.get(REQUEST_ID_ATTRIBUTE) == request_id
        ]

    async def whole_trace() -> list[ReceivedSpan]:
        return of_request()

    # The matching consumer and the gateway's webhook fan-out both hear the event.
    spans = await eventually(
        whole_trace,
        until=lambda ss: (
            {(s.service, s.kind) for s in ss} >= {(MATCHING, "CONSUMER"), (GATEWAY, "CONSUMER")}
        ),
    )
    gateway = _one(spans, "gateway request", service=GATEWAY, kind="SERVER")
    trace_id = gateway.trace_id
    assert trace_id != client_trace
    assert (client_trace, client_span) in gateway.links
    assert gateway.attributes["http.response.status_code"] == 201
    assert all(s.trace_id == trace_id for s in spans), "every span of the request in one trace"

    hop = _one(spans, "gateway to registry", service=GATEWAY, kind="CLIENT")
    assert hop.parent_span_id == gateway.span_id
    assert hop.attributes["clusterbridge.upstream"] == "registry"
    served = _one(spans, "registry request", service=REGISTRY, kind="SERVER")
    assert served.parent_span_id == hop.span_id
    assert served.name == "POST /v1/clusters"
    assert served.attributes["http.route"] == "/v1/clusters"
    assert served.attributes["http.response.status_code"] == 201
    # Published later by the relay, from the outbox row the request wrote.
    published = _one(
        spans,
        "outbox publish",
        service=REGISTRY,
        kind="PRODUCER",
        name=f"publish {registry_contract.CLUSTER_UPSERTED}",
    )
    assert published.parent_span_id == served.span_id
    consumed = _one(spans, "matching consumer", service=MATCHING, kind="CONSUMER")
    assert consumed.parent_span_id == published.span_id
    assert consumed.name == f"process {registry_contract.CLUSTER_UPSERTED}"
    assert consumed.attributes["messaging.consumer.group.name"] == "matching-profiles"
    assert (
        consumed.attributes["messaging.message.id"] == published.attributes["messaging.message.id"]
    )
    fanned = _one(spans, "webhook fan-out", service=GATEWAY, kind="CONSUMER")
    assert fanned.parent_span_id == published.span_id
    assert not any(s.error for s in spans)

    # The logs of that request, in each process: the request id on every line that was
    # written inside its trace, and at least one such line per process.
    for name, service in traced.services.items():
        records = _log_records(service)
        in_trace = [r for r in records if r.get("trace_id") == trace_id]
        assert in_trace, f"{name}: no log line in trace {trace_id}"
        assert all(r.get("request_id") == request_id for r in in_trace), in_trace
        assert any(r.get("request_id") == request_id for r in records)
    matching_lines = [
        r for r in _log_records(traced.services["matching"]) if r.get("trace_id") == trace_id
    ]
    assert any(r["event"] == "event handled" for r in matching_lines), matching_lines
    registry_lines = [
        r for r in _log_records(traced.services["registry"]) if r.get("trace_id") == trace_id
    ]
    assert any(r["event"] == "request handled" and r["status"] == 201 for r in registry_lines)


async def test_requests_refused_at_the_door_are_traced_and_never_forwarded(
    traced: Traced,
) -> None:
    """No key, and another tenant's key on a private write: each answer has its span,
    with its own request id; the refused one never reached a service."""
    no_key = f"traces-nokey-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=traced.gateway, timeout=30) as c:
        r = await c.post("/v1/clusters", json=_cluster(), headers={"x-request-id": no_key})
        assert r.status_code == 401
        jp = {"authorization": f"Bearer {traced.keys['jp']}"}
        created = await c.post("/v1/clusters", json=_cluster(), headers=jp)
        assert created.status_code == 201
        other = f"traces-br-{uuid.uuid4().hex}"
        br = {"authorization": f"Bearer {traced.keys['br']}", "x-request-id": other}
        r = await c.delete(f"/v1/clusters/{created.json()['id']}", headers=br)
        assert r.status_code in (403, 404), r.text

    def with_id(request_id: str) -> list[ReceivedSpan]:
        return [
            s for s in traced.receiver.spans if s.attributes.get(REQUEST_ID_ATTRIBUTE) == request_id
        ]

    async def both() -> tuple[list[ReceivedSpan], list[ReceivedSpan]]:
        return with_id(no_key), with_id(other)

    refused, walled = await eventually(
        both,
        until=lambda pair: (
            bool(pair[0])
            and {(s.service, s.kind) for s in pair[1]}
            >= {(GATEWAY, "SERVER"), (REGISTRY, "SERVER")}
        ),
    )
    door = _one(refused, "refused request", service=GATEWAY, kind="SERVER")
    assert door.attributes["http.response.status_code"] == 401
    assert [s for s in refused if s.service != GATEWAY or s.kind != "SERVER"] == []
    answer = _one(walled, "registry refusal", service=REGISTRY, kind="SERVER")
    assert answer.attributes["http.response.status_code"] == r.status_code
    assert not any(s.kind == "PRODUCER" for s in walled), "a refused write publishes nothing"


async def test_request_and_consumer_metrics_go_out_by_otlp(traced: Traced) -> None:
    async with httpx.AsyncClient(base_url=traced.gateway, timeout=30) as c:
        jp = {"authorization": f"Bearer {traced.keys['jp']}"}
        assert (await c.post("/v1/clusters", json=_cluster(), headers=jp)).status_code == 201

    def points(service: str, metric: str, **attributes: Any) -> list[float]:
        return [
            p.value
            for p in traced.receiver.points
            if p.service == service
            and p.metric == metric
            and all(p.attributes.get(k) == v for k, v in attributes.items())
        ]

    async def seen() -> dict[str, list[float]]:
        request = {
            "http.route": "/v1/clusters",
            "http.request.method": "POST",
            "http.response.status_code": 201,
        }
        consumer = {"consumer": "matching-profiles"}
        return {
            "requests": points(REGISTRY, "http.server.request.duration", **request),
            "consumed": points(
                MATCHING, "clusterbridge.consumer.messages", **consumer, outcome="applied"
            ),
            "published": points(REGISTRY, "clusterbridge.outbox.published"),
            "pending": points(MATCHING, "clusterbridge.consumer.pending", **consumer),
        }

    found = await eventually(seen, until=lambda d: all(d.values()))
    assert max(found["requests"]) >= 1
    assert max(found["consumed"]) >= 1
    assert max(found["published"]) >= 1
    assert min(found["pending"]) >= 0


async def test_with_no_endpoint_nothing_is_traced(platform: Platform) -> None:
    """The suite's platform runs with nothing configured: no provider, no tracing
    middleware, and the outbox row of a write keeps the request id but no trace
    context, even when the client sent one."""
    for name, service in platform.services.items():
        telemetry = service.app.state.runtime.telemetry
        assert not telemetry.configured, name
        assert telemetry.tracer is None, name
        installed: list[object] = [m.cls for m in service.app.user_middleware]
        assert TracedRequests not in installed, name
    request_id = f"untraced-{uuid.uuid4().hex}"
    headers = {
        "x-request-id": request_id,
        "traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01",
    }
    async with platform.client("jp") as c:
        r = await c.post("/v1/clusters", json=_cluster(), headers=headers)
    assert r.status_code == 201, r.text
    engine = create_async_engine(platform.database_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT headers FROM registry.outbox WHERE headers->>'x-request-id' = :r"),
                    {"r": request_id},
                )
            ).all()
    finally:
        await engine.dispose()
    assert [row.headers for row in rows] == [{"x-request-id": request_id}]


def test_without_an_endpoint_the_sdk_is_never_imported() -> None:
    """Every service's app built with nothing configured loads none of the OpenTelemetry
    SDK or exporter (only the API, which FastAPI itself imports); the running ones are
    checked above."""
    program = """
import sys
from services.gateway.main import create_app as gateway
from services.registry.main import create_app as registry
from services.matching.main import create_app as matching
from services.events.main import create_app as events
from services.web.main import create_app as web
for make in (gateway, registry, matching, events, web):
    make()
loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter")))
print("loaded:", loaded)
assert not loaded, loaded
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "loaded: []" in done.stdout
