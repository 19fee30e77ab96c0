"""Typed settings read from the environment, the same variables for every way of running."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_TOKEN = "change-me-internal-token"  # noqa: S105 - a known placeholder, refused in production


class ServiceSettings(BaseSettings):
    """Settings every service shares; a service subclasses it to add its own."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:54329/clusterbridge"
    nats_url: str = "nats://127.0.0.1:4229"
    internal_token: str = PLACEHOLDER_TOKEN
    log_level: str = "INFO"
    # Sized for ~32 concurrent requests per process: connections beyond the pool are
    # closed on return, and reconnect churn costs far more than an idle connection.
    db_pool_size: int = Field(default=30, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_pool_timeout: float = Field(default=5.0, gt=0)
    # Bodies above this are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Outbox relay: how often it looks for rows nobody woke it up for (other replicas).
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    # JetStream stream replicas: 1 on one machine, 3 on a NATS cluster.
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    # Start the background workers (relay, consumers). Tests turn them off to drive them by hand.
    run_workers: bool = True
    # OpenTelemetry, under the standard variable names. Traces and metrics go by OTLP/HTTP
    # to this collector base URL (e.g. http://collector:4318); unset, nothing is set up
    # and no request pays for tracing.
    otel_exporter_otlp_endpoint: str | None = None
    # The service's name in traces; default "clusterbridge-<service>".
    otel_service_name: str | None = None
    # The SDK's own switch: true turns telemetry off even with an endpoint set.
    otel_sdk_disabled: bool = False
    # How often metrics are pushed (the SDK's variable, in milliseconds).
    otel_metric_export_interval: int = Field(default=60_000, ge=100)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.environment == "production" and self.internal_token == PLACEHOLDER_TOKEN:
            raise ValueError("INTERNAL_TOKEN must be set to a real secret in production")
        return self
