"""W3C trace context and the ids of a workflow instance's spans, as pure data.

No OpenTelemetry here: the engine propagates trace contexts with these functions and
``tracing.py`` exports spans with the same ids, so both always agree.

An instance is traced when its ExecutionStarted carries an ``orchestrationSpanID`` (the
id of its instance span, minted when it was created and the sampler said yes; children
get theirs from the engine). Everything else is derived from persisted data, so a
restarted daemon, a continue-as-new generation (which copies the field) and a rewind
(which keeps the event) find the same ids:

- trace id: the ``parentTraceContext``'s when there is one (a caller's context, or the
  parent instance's span for a child), else a hash of the instance id and its span id;
- the instance span's parent: the ``parentTraceContext``'s span, if any;
- child span ids (activities, timers, event waits): hashes of the instance span id, the
  generation's execution id and the task's id.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Protocol

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX32 = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class TraceParent:
    """A parsed W3C ``traceparent``."""

    trace_id: str  # 32 lowercase hex digits, not all zero
    span_id: str  # 16 lowercase hex digits, not all zero
    sampled: bool

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def parse_traceparent(text: str, span_id: str = "") -> TraceParent | None:
    """``traceparent`` as W3C writes it; None if it is malformed.

    durabletask-go's older form (a bare trace id, the span id in ``spanID``) is read too.
    """
    text = text.strip().lower()
    match = _TRACEPARENT.fullmatch(text)
    if match is not None:
        version, trace_id, parent_id, flags, rest = match.groups()
        if version == "ff" or (version == "00" and rest) or not _nonzero(trace_id) \
                or not _nonzero(parent_id):
            return None
        return TraceParent(trace_id, parent_id, bool(int(flags, 16) & 1))
    span_id = span_id.strip().lower()
    if _HEX32.fullmatch(text) and _HEX16.fullmatch(span_id) and _nonzero(text) \
            and _nonzero(span_id):
        return TraceParent(text, span_id, True)
    return None


def context_parent(context: pb.TraceContext | None) -> TraceParent | None:
    """The parent a wire ``TraceContext`` names, or None if absent or malformed."""
    if context is None or not context.traceParent:
        return None
    return parse_traceparent(context.traceParent, context.spanID)


def is_span_id(text: str) -> bool:
    return bool(_HEX16.fullmatch(text)) and _nonzero(text)


def new_span_id() -> str:
    while True:
        span_id = secrets.token_hex(8)
        if _nonzero(span_id):
            return span_id


@functools.lru_cache(maxsize=4096)
def derive(kind: str, *parts: str, length: int = 16) -> str:
    """A hex id of ``length`` digits that depends only on ``kind`` and ``parts`` (cached:
    every turn of a traced instance asks again for the same few ids)."""
    digest = hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()[:length]
    return digest if _nonzero(digest) else "0" * (length - 1) + "1"


def _nonzero(hex_id: str) -> bool:
    return hex_id.strip("0") != ""


@dataclass(frozen=True, slots=True)
class InstanceTrace:
    """The trace identity of one traced workflow instance."""

    trace_id: str
    span_id: str  # the instance span
    parent_id: str | None  # the instance span's parent, if it has one
    execution_id: str  # of the generation the ExecutionStarted belongs to

    def context(self, span_id: str | None = None) -> pb.TraceContext:
        """The wire context of the instance span (or of one of its children)."""
        span = span_id or self.span_id
        return pb.TraceContext(traceParent=TraceParent(self.trace_id, span, True).header(),
                               spanID=span)

    def activity_span_id(self, task_id: int) -> str:
        return derive("activity", self.span_id, self.execution_id, str(task_id))

    def timer_span_id(self, timer_id: int) -> str:
        return derive("timer", self.span_id, self.execution_id, str(timer_id))

    def event_span_id(self, event_position: int) -> str:
        """The wait for the EventRaised at ``event_position`` in the generation's history."""
        return derive("event", self.span_id, self.execution_id, str(event_position))


def instance_trace(instance_id: str, started: pb.HistoryEvent | None) -> InstanceTrace | None:
    """The trace identity an ExecutionStarted gives its instance; None if untraced."""
    if started is None or not started.HasField("executionStarted"):
        return None
    es = started.executionStarted
    if not es.HasField("orchestrationSpanID"):
        return None
    parent = es.parentTraceContext if es.HasField("parentTraceContext") else None
    return _instance_trace(instance_id, es.orchestrationSpanID.value,
                           es.orchestrationInstance.executionId.value,
                           None if parent is None else parent.SerializeToString())


@functools.lru_cache(maxsize=4096)
def _instance_trace(instance_id: str, span_id: str, execution_id: str,
                    parent_bytes: bytes | None) -> InstanceTrace | None:
    # Cached by the plain values it depends on: every commit of a traced instance asks.
    if not is_span_id(span_id):
        return None
    parent = context_parent(None if parent_bytes is None
                            else pb.TraceContext.FromString(parent_bytes))
    trace_id = parent.trace_id if parent else derive("trace", instance_id, span_id, length=32)
    return InstanceTrace(trace_id, span_id, parent.span_id if parent else None, execution_id)


def trace_id_of(instance_id: str, started: pb.HistoryEvent | None) -> str | None:
    """The trace an instance's work belongs to: its own when traced, else the one its
    start carried in (an untraced instance passes a caller's context through)."""
    traced = instance_trace(instance_id, started)
    if traced is not None:
        return traced.trace_id
    if started is None or not started.executionStarted.HasField("parentTraceContext"):
        return None
    parent = context_parent(started.executionStarted.parentTraceContext)
    return parent.trace_id if parent else None


def child_span_id(child_instance_id: str, child_execution_id: str) -> str:
    """The instance span id of a child (or detached) instance a traced instance starts."""
    return derive("instance", child_instance_id, child_execution_id)


class TraceSampler(Protocol):
    """Whether a new top-level instance is traced (tracing.py wraps OpenTelemetry's
    sampler; the default traces nothing)."""

    def sampled(self, trace_id: str, parent: TraceParent | None, name: str) -> bool: ...


class NeverSample:
    def sampled(self, trace_id: str, parent: TraceParent | None, name: str) -> bool:
        return False


NEVER = NeverSample()


def mint_instance_span(sampler: TraceSampler, instance_id: str, name: str,
                       parent_context: pb.TraceContext | None) -> str | None:
    """A new instance's span id if ``sampler`` traces it, else None."""
    span_id = new_span_id()
    parent = context_parent(parent_context)
    trace_id = parent.trace_id if parent else derive("trace", instance_id, span_id, length=32)
    return span_id if sampler.sampled(trace_id, parent, name) else None
