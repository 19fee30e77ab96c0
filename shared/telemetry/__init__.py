"""OpenTelemetry for the services: traces and metrics by OTLP when configured, nothing
at all (no SDK imported, no span made) when not."""
