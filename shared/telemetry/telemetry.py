"""A service's tracer and instruments: an OpenTelemetry SDK of its own when OTLP is
configured, nothing otherwise.

Each app gets its own providers instead of the process-global ones: tests (and a local
debugging session) run several services in one process, each with its own service name
and its own switch, and a service with tracing off must stay off whatever another one
in the process does. The SDK is imported only when an endpoint is set, so the off path
loads none of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer

from shared.requestid import current_request_id

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, Meter, _Gauge

    from shared.settings import ServiceSettings

REQUEST_ID_ATTRIBUTE = "clusterbridge.request_id"

# The same boundaries as the Prometheus histogram (shared.middleware.REQUEST_SECONDS), so
# both views of request latency agree bucket for bucket.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


@dataclass(frozen=True)
class TelemetryConfig:
    service: str
    endpoint: str
    service_name: str
    metric_interval_ms: int

    @classmethod
    def from_settings(cls, service: str, settings: ServiceSettings) -> TelemetryConfig | None:
        endpoint = (settings.otel_exporter_otlp_endpoint or "").strip()
        if not endpoint or settings.otel_sdk_disabled:
            return None
        return cls(
            service=service,
            endpoint=endpoint.rstrip("/"),
            service_name=settings.otel_service_name or f"clusterbridge-{service}",
            metric_interval_ms=settings.otel_metric_export_interval,
        )


class _Instruments:
    """The OTel twins of the Prometheus series (same measurements, OTel names)."""

    def __init__(self, meter: Meter) -> None:
        self.request_duration: Histogram = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.consumed: Counter = meter.create_counter(
            "clusterbridge.consumer.messages", description="Events handled, by outcome"
        )
        self.pending: _Gauge = meter.create_gauge(
            "clusterbridge.consumer.pending", description="Messages waiting for the consumer"
        )
        self.published: Counter = meter.create_counter(
            "clusterbridge.outbox.published", description="Events published from the outbox"
        )
        self.publish_failures: Counter = meter.create_counter(
            "clusterbridge.outbox.publish_failures", description="Failed relay batches"
        )
        self.backlog: _Gauge = meter.create_gauge(
            "clusterbridge.outbox.backlog", description="Unpublished outbox rows seen"
        )


class Telemetry:
    """What a service traces and measures with. `tracer` is None while off (always,
    when no endpoint is configured): callers test it and skip all span work."""

    def __init__(self, config: TelemetryConfig | None = None) -> None:
        self.config = config
        self.tracer: Tracer | None = None
        self._instruments: _Instruments | None = None
        self._providers: list[Any] = []

    @property
    def configured(self) -> bool:
        return self.config is not None

    def start(self) -> None:
        """Build the SDK providers and exporters (their export threads start here)."""
        if self.config is None or self.tracer is not None:
            return
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        cfg = self.config
        # Resource.create adds OTEL_RESOURCE_ATTRIBUTES; the sampler, batch sizes, export
        # headers and timeouts come from the SDK's own OTEL_* variables.
        resource = Resource.create(
            {
                "service.name": cfg.service_name,
                "service.namespace": "clusterbridge",
                "clusterbridge.service": cfg.service,
            }
        )
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{cfg.endpoint}/v1/traces"))
        )
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"{cfg.endpoint}/v1/metrics"),
            export_interval_millis=cfg.metric_interval_ms,
        )
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        self._providers = [tracer_provider, meter_provider]
        self.tracer = tracer_provider.get_tracer("clusterbridge")
        self._instruments = _Instruments(meter_provider.get_meter("clusterbridge"))

    async def stop(self) -> None:
        """Export what is buffered and stop the export threads (blocking I/O: off the loop)."""
        providers, self._providers = self._providers, []
        self.tracer, self._instruments = None, None
        for provider in providers:
            await asyncio.to_thread(provider.shutdown)

    # ---- spans -------------------------------------------------------------------

    @contextlib.contextmanager
    def span(
        self,
        name: str,
        kind: SpanKind,
        *,
        parent: Context | None = None,
        links: list[Link] | None = None,
        attributes: Mapping[str, str | int] | None = None,
    ) -> Iterator[Span | None]:
        """A current span with the request id on it; yields None (and does nothing)
        while off."""
        if self.tracer is None:
            yield None
            return
        attrs: dict[str, str | int] = dict(attributes or {})
        request_id = current_request_id()
        if request_id:
            attrs[REQUEST_ID_ATTRIBUTE] = request_id
        with self.tracer.start_as_current_span(
            name, context=parent, kind=kind, attributes=attrs, links=links
        ) as span:
            yield span

    # ---- metrics (no-ops while off) ---------------------------------------------------

    def record_request(self, method: str, route: str, status: int, seconds: float) -> None:
        if self._instruments is not None:
            self._instruments.request_duration.record(
                seconds,
                {
                    "http.request.method": method,
                    "http.route": route,
                    "http.response.status_code": status,
                },
            )

    def count_consumed(self, consumer: str, outcome: str, n: int = 1) -> None:
        if self._instruments is not None and n:
            self._instruments.consumed.add(n, {"consumer": consumer, "outcome": outcome})

    def set_pending(self, consumer: str, pending: int) -> None:
        if self._instruments is not None:
            self._instruments.pending.set(pending, {"consumer": consumer})

    def count_published(self, n: int) -> None:
        if self._instruments is not None and n:
            self._instruments.published.add(n)

    def count_publish_failure(self) -> None:
        if self._instruments is not None:
            self._instruments.publish_failures.add(1)

    def set_backlog(self, rows: int) -> None:
        if self._instruments is not None:
            self._instruments.backlog.set(rows)


def mark_error(span: Span | None, exc: BaseException) -> None:
    if span is not None:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


OFF = Telemetry()
