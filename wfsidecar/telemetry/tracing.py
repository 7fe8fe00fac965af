"""Traces to Zipkin: the OpenTelemetry side of the observer seam (docs/observability.md).

``TracingObserver`` hears committed workflow turns, derives their finished spans
(spans.py) and hands them to OpenTelemetry's ``BatchSpanProcessor`` with the Zipkin JSON
exporter. Spans are built complete, with the ids and start times persisted data gives
(trace_ids.py), rather than started and ended by a tracer: a span that outlives the
process (a workflow waiting for days, a daemon killed and restarted) keeps its ids. The
processor's export thread is the only thread; ``close`` flushes it within a bound.

Only the composition root imports this module (an import-linter contract says so).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry import trace as otel_trace
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

from wfsidecar import __version__
from wfsidecar.config import TracingConfig
from wfsidecar.telemetry.observer import NullObserver, WorkflowCommit, WorkItemEvent
from wfsidecar.telemetry.spans import SpanData, SpanDeriver
from wfsidecar.telemetry.trace_ids import TraceParent

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "wfsidecar"
# durabletask-go's tracer name (engine.md §6); Zipkin shows it as otel.scope.name.
SCOPE = InstrumentationScope("durabletask", __version__)  # a version: Zipkin tags are strings
_SAMPLED = (Decision.RECORD_AND_SAMPLE,)
_KINDS = {"SERVER": SpanKind.SERVER, "CLIENT": SpanKind.CLIENT,
          "INTERNAL": SpanKind.INTERNAL, "PRODUCER": SpanKind.PRODUCER,
          "CONSUMER": SpanKind.CONSUMER}


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """``tracing:`` with the standard OpenTelemetry variables filled in."""

    endpoint: str
    service_name: str
    sampler: Sampler
    include_payloads: bool

    @classmethod
    def resolve(cls, cfg: TracingConfig, environ: Mapping[str, str]) -> TracingSettings | None:
        """None when tracing is off: no endpoint in the config nor in
        ``OTEL_EXPORTER_ZIPKIN_ENDPOINT``, or ``OTEL_SDK_DISABLED=true``. What the config
        sets wins over the variables."""
        endpoint = cfg.zipkin_endpoint or environ.get("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "")
        disabled = environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        if not endpoint.strip() or (disabled and not cfg.zipkin_endpoint):
            return None
        service = cfg.service_name or environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
        if cfg.sampling_ratio is not None:
            sampler: Sampler = ParentBased(TraceIdRatioBased(cfg.sampling_ratio))
        else:
            sampler = sampler_from_env(environ)
        return cls(endpoint.strip(), service, sampler, cfg.include_payloads)


def sampler_from_env(environ: Mapping[str, str]) -> Sampler:
    """``OTEL_TRACES_SAMPLER``/``_ARG`` as the OpenTelemetry SDK reads them (default
    ``parentbased_always_on``)."""
    name = environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    raw = environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    try:
        ratio = float(raw) if raw else 1.0
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        logger.warning("OTEL_TRACES_SAMPLER_ARG=%r is not a ratio from 0 to 1; using 1.0", raw)
        ratio = 1.0
    samplers: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(ratio),
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(TraceIdRatioBased(ratio)),
    }
    if name not in samplers:
        logger.warning("OTEL_TRACES_SAMPLER=%r is not one this daemon knows; using "
                       "parentbased_always_on", name)
        name = "parentbased_always_on"
    return samplers[name]


class OtelSampler:
    """trace_ids.TraceSampler over an OpenTelemetry sampler: whether a new top-level
    instance is traced (WorkflowService asks when it creates one)."""

    def __init__(self, sampler: Sampler) -> None:
        self._sampler = sampler

    def sampled(self, trace_id: str, parent: TraceParent | None, name: str) -> bool:
        context = None
        if parent is not None:
            context = otel_trace.set_span_in_context(otel_trace.NonRecordingSpan(SpanContext(
                int(parent.trace_id, 16), int(parent.span_id, 16), is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED if parent.sampled
                                       else TraceFlags.DEFAULT))))
        result = self._sampler.should_sample(context, int(trace_id, 16), name,
                                             kind=SpanKind.SERVER)
        return result.decision in _SAMPLED


class TracingObserver(NullObserver):
    """Exports the spans of committed workflow turns; every other seam event is ignored."""

    def __init__(self, settings: TracingSettings, *,
                 processor: SpanProcessor | None = None) -> None:
        self.settings = settings
        self.sampler = OtelSampler(settings.sampler)
        self._resource = Resource.create({SERVICE_NAME: settings.service_name})
        self._processor = processor
        self._deriver = SpanDeriver(include_payloads=settings.include_payloads)
        self._closed = False

    def start(self) -> None:
        """Start the export thread (spans committed before are not exported)."""
        if self._processor is None and not self._closed:
            # The exporter's own variables (OTEL_EXPORTER_ZIPKIN_TIMEOUT) and the batch
            # processor's (OTEL_BSP_*) apply as in any OpenTelemetry app.
            self._processor = BatchSpanProcessor(ZipkinExporter(endpoint=self.settings.endpoint))

    def work_completed(self, event: WorkItemEvent) -> None:
        self._deriver.work_completed(event)

    def workflow_committed(self, commit: WorkflowCommit) -> None:
        processor = self._processor
        if processor is None or self._closed:
            return
        for span in self._deriver.spans(commit):
            processor.on_end(self._readable(span))

    def _readable(self, span: SpanData) -> ReadableSpan:
        trace_id = int(span.trace_id, 16)
        sampled = TraceFlags(TraceFlags.SAMPLED)
        parent = None
        if span.parent_id is not None:
            parent = SpanContext(trace_id, int(span.parent_id, 16), is_remote=False,
                                 trace_flags=sampled)
        status = Status(StatusCode.ERROR, span.error) if span.error is not None \
            else Status(StatusCode.UNSET)
        return ReadableSpan(
            name=span.name,
            context=SpanContext(trace_id, int(span.span_id, 16), is_remote=False,
                                trace_flags=sampled),
            parent=parent, resource=self._resource, attributes=span.attributes,
            events=[Event(e.name, dict(e.attributes), e.time_ns) for e in span.events],
            kind=_KINDS[span.kind], instrumentation_scope=SCOPE, status=status,
            start_time=span.start_ns, end_time=span.end_ns)

    async def close(self, grace: float) -> None:
        """Export what is buffered and stop the export thread, waiting at most ``grace``
        seconds (the thread is a daemon thread: past that, it is abandoned)."""
        processor = self._processor
        self._closed = True
        if processor is None:
            return
        self._processor = None
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def finished() -> None:
            if not done.done():
                done.set_result(None)

        def shut_down() -> None:
            try:
                processor.shutdown()
            finally:
                loop.call_soon_threadsafe(finished)

        # Its own daemon thread, not the loop's executor: one stuck on an unreachable
        # collector must not hold up the process's exit.
        threading.Thread(target=shut_down, name="tracing-shutdown", daemon=True).start()
        try:
            await asyncio.wait_for(done, grace)
        except TimeoutError:
            logger.warning("tracing: spans not exported within %.1fs of shutdown were "
                           "dropped", grace)
