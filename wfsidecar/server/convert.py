"""Protobuf ↔ service-layer values for the Dapr dialect."""

from __future__ import annotations

from google.protobuf import timestamp_pb2, wrappers_pb2

from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.engine import RuntimeStatus
from wfsidecar.workflow.messages import InstanceSnapshot
from wfsidecar.workflow.service import StartRequest


def text(value: wrappers_pb2.StringValue, present: bool) -> str | None:
    return value.value if present else None


def ms_of(ts: timestamp_pb2.Timestamp) -> int:
    return int(ts.ToMilliseconds())


def timestamp(ms: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def start_request(req: pb.CreateInstanceRequest) -> StartRequest:
    enforce = bool(getattr(req, "enforceUniqueInstanceId", False))
    return StartRequest(
        name=req.name,
        instance_id=req.instanceId,
        input=text(req.input, req.HasField("input")),
        version=text(req.version, req.HasField("version")) or None,
        scheduled_start_ms=(ms_of(req.scheduledStartTimestamp)
                            if req.HasField("scheduledStartTimestamp") else None),
        execution_id=text(req.executionId, req.HasField("executionId")) or None,
        tags=dict(req.tags),
        parent_trace_context=(req.parentTraceContext
                              if req.HasField("parentTraceContext") else None),
        enforce_unique=enforce,
    )


def orchestration_state(snapshot: InstanceSnapshot, *, payloads: bool) -> pb.OrchestrationState:
    view = snapshot.view
    state = pb.OrchestrationState(
        instanceId=view.instance_id,
        name=view.name,
        orchestrationStatus=int(view.status),  # type: ignore[arg-type]
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
    if payloads:
        if view.input is not None:
            state.input.value = view.input
        if view.output is not None:
            state.output.value = view.output
        if snapshot.custom_status is not None:
            state.customStatus.value = snapshot.custom_status
        if view.failure is not None:
            state.failureDetails.CopyFrom(view.failure)
    return state


def instance_response(snapshot: InstanceSnapshot | None, *,
                      payloads: bool) -> pb.GetInstanceResponse:
    if snapshot is None:
        return pb.GetInstanceResponse(exists=False)
    return pb.GetInstanceResponse(
        exists=True, orchestrationState=orchestration_state(snapshot, payloads=payloads))


def statuses(values: object) -> frozenset[RuntimeStatus]:
    assert hasattr(values, "__iter__")
    return frozenset(RuntimeStatus(int(v)) for v in values)
