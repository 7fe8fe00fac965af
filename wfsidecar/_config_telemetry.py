"""The ``metrics:`` and ``tracing:`` sections (docs/observability.md).

``wfsidecar.config`` re-exports them; import from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from wfsidecar._config_values import DURATION, Range
from wfsidecar.errors import ConfigError

Port = Annotated[int, Range(0, 65535)]
PositiveInt = Annotated[int, Range(1, None)]
Duration = Annotated[float, DURATION]


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """Prometheus metrics (docs/observability.md), on a listener of their own."""

    enabled: bool = False
    """Serve ``GET /metrics`` on ``host:port``. Off by default, so that a second daemon or a
    Dapr sidecar already on port 9090 does not stop this one from starting;
    ``--metrics-port`` turns it on."""
    host: str = "127.0.0.1"
    """Interface to bind. ``127.0.0.1`` keeps the metrics private to this machine;
    ``0.0.0.0`` lets a Prometheus elsewhere scrape them (containers)."""
    port: Port = 9090
    """TCP port, 0-65535 (Dapr's metrics port is 9090 too). 0 lets the OS pick a free port
    (reported in the ready file)."""
    app_id: str | None = None
    """Value of the ``app_id`` label on Dapr's ``dapr_runtime_workflow_*`` metrics, as
    Dapr's ``--app-id``; unset means an empty label."""
    namespace: str | None = None
    """Value of the ``namespace`` label on Dapr's metrics; unset means an empty label."""
    instances_max_age: Duration = 10.0
    """How old the per-status instance counts (``wfsidecar_instances``) may be when
    scraped: a scrape recounts them from the instance index (one query per status) only
    when they are older than this."""


@dataclass(frozen=True, slots=True)
class TracingConfig:
    """OpenTelemetry traces exported to Zipkin (docs/observability.md)."""

    zipkin_endpoint: str | None = None
    """Zipkin v2 URL spans are posted to, e.g. ``http://localhost:9411/api/v2/spans``;
    Jaeger's Zipkin port and an OpenTelemetry collector's Zipkin receiver take them too.
    Unset: ``OTEL_EXPORTER_ZIPKIN_ENDPOINT``; neither set: tracing is off."""
    sampling_ratio: Annotated[float | None, Range(0, 1)] = None
    """Share of new top-level workflow instances traced, 0 to 1; children follow their
    parent and a caller's sampled flag is honoured. Unset: ``OTEL_TRACES_SAMPLER`` and
    ``OTEL_TRACES_SAMPLER_ARG``, else every instance."""
    service_name: str | None = None
    """The daemon's service name in Zipkin. Unset: ``OTEL_SERVICE_NAME``, else
    ``wfsidecar``."""
    include_payloads: bool = False
    """Put workflow, activity and event inputs and outputs into span attributes
    (``wfsidecar.input``, ``wfsidecar.output``). Off: no payload ever leaves in a trace."""
    ui_url_template: str | None = None
    """Where a person sees one trace, with ``{traceId}`` (and optionally ``{instanceId}``) to
    fill in, e.g. ``http://localhost:9411/zipkin/traces/{traceId}`` (Zipkin) or
    ``http://localhost:16686/trace/{traceId}`` (Jaeger). The dashboard links every instance
    to its trace with it (``/v1.0/metadata`` reports it); a browser may override it there."""

    def __post_init__(self) -> None:
        template = self.ui_url_template
        if template is not None and not (
                template.startswith(("http://", "https://")) and "{traceId}" in template):
            raise ConfigError("tracing.ui_url_template",
                              "must be an http:// or https:// URL containing {traceId}, e.g. "
                              "http://localhost:9411/zipkin/traces/{traceId}")
