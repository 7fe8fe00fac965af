"""Wire messages ↔ service-layer values, for either dialect.

Request messages of both dialects share field names for everything used here, so one set
of functions serves both; ``Dialect`` supplies the message classes and the mapping of
internal values (failure details, trace contexts, history events) to the wire.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import timestamp_pb2, wrappers_pb2

from wfsidecar._proto.internal import orchestrator_service_pb2 as ipb
from wfsidecar.engine import RuntimeStatus
from wfsidecar.server.dialect import Dialect
from wfsidecar.workflow.messages import InstanceSnapshot
from wfsidecar.workflow.requests import Dialect as WorkflowDialect
from wfsidecar.workflow.requests import StartRequest, TraceContext


def text(value: wrappers_pb2.StringValue, present: bool) -> str | None:
    return value.value if present else None


def optional_text(msg: Any, field: str) -> str | None:
    return getattr(msg, field).value if msg.HasField(field) else None


def ms_of(ts: timestamp_pb2.Timestamp) -> int:
    return int(ts.ToMilliseconds())


def optional_ms(msg: Any, field: str) -> int | None:
    return ms_of(getattr(msg, field)) if msg.HasField(field) else None


def timestamp(ms: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def start_request(req: Any, dialect: Dialect, **policy: Any) -> StartRequest:
    return StartRequest(
        name=req.name,
        instance_id=req.instanceId,
        input=optional_text(req, "input"),
        version=optional_text(req, "version") or None,
        scheduled_start_ms=optional_ms(req, "scheduledStartTimestamp"),
        execution_id=optional_text(req, "executionId") or None,
        tags=dict(req.tags),
        parent_trace_context=(trace_context(req.parentTraceContext)
                              if req.HasField("parentTraceContext") else None),
        dialect=WorkflowDialect(dialect.name),
        **policy,
    )


def trace_context(wire: Any) -> TraceContext:
    """A wire TraceContext (the same fields in both dialects)."""
    return TraceContext(trace_parent=wire.traceParent, span_id=wire.spanID,
                        trace_state=(wire.traceState.value if wire.HasField("traceState")
                                     else None))


def orchestration_state(snapshot: InstanceSnapshot, *, payloads: bool, dialect: Dialect) -> Any:
    view = snapshot.view
    state = dialect.msg("OrchestrationState")(
        instanceId=view.instance_id,
        name=view.name,
        orchestrationStatus=dialect.status(view.status),
        createdTimestamp=timestamp(view.created_ms),
        lastUpdatedTimestamp=timestamp(view.last_updated_ms),
    )
    if view.version:
        state.version.value = view.version
    if view.execution_id:
        state.executionId.value = view.execution_id
    if view.scheduled_start_ms is not None:
        state.scheduledStartTimestamp.CopyFrom(timestamp(view.scheduled_start_ms))
    if view.completed_ms is not None:
        state.completedTimestamp.CopyFrom(timestamp(view.completed_ms))
    if view.parent_instance_id:
        state.parentInstanceId.value = view.parent_instance_id
    for key, value in snapshot.tags:
        state.tags[key] = value
    if payloads:
        if view.input is not None:
            state.input.value = view.input
        if view.output is not None:
            state.output.value = view.output
        if snapshot.custom_status is not None:
            state.customStatus.value = snapshot.custom_status
        if view.failure is not None:
            state.failureDetails.CopyFrom(
                dialect.to_wire(view.failure, dialect.msg("TaskFailureDetails")))
    return state


def instance_response(snapshot: InstanceSnapshot | None, *, payloads: bool,
                      dialect: Dialect) -> Any:
    response = dialect.msg("GetInstanceResponse")
    if snapshot is None:
        return response(exists=False)
    return response(exists=True, orchestrationState=orchestration_state(
        snapshot, payloads=payloads, dialect=dialect))


def history(events: tuple[ipb.HistoryEvent, ...], dialect: Dialect) -> list[Any]:
    cls = dialect.msg("HistoryEvent")
    return [dialect.to_wire(e, cls) for e in events]


def statuses(values: Any) -> frozenset[RuntimeStatus]:
    return frozenset(RuntimeStatus(int(v)) for v in values)
