"""wfsidecar.server.wire_transcode: the same mapping as the reflective transcoder, on bytes.

Differential: every Microsoft message type, fully populated in each oneof variant, goes
through both transcoders in both directions and must come out equal, errors included.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.message import DecodeError, Message

from tests.conformance.wire import oneof_variants, populated
from wfsidecar._proto.internal import orchestrator_service_pb2 as internal
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms
from wfsidecar.server import transcode, wire_transcode
from wfsidecar.server.transcode import TranscodeError

PAIRS = [(getattr(ms, n), getattr(internal, n)) for n in ms.DESCRIPTOR.message_types_by_name
         if n in internal.DESCRIPTOR.message_types_by_name]


def _outcome(fn: Any, msg: Message, cls: type[Message]) -> Any:
    try:
        return fn(msg, cls).SerializeToString(deterministic=True)
    except TranscodeError:
        return TranscodeError


@pytest.mark.parametrize(("ms_cls", "internal_cls"), PAIRS, ids=lambda c: c.__name__)
def test_ms_to_internal_matches_the_reflective_copy(ms_cls: Any, internal_cls: Any) -> None:
    for choice in range(oneof_variants(ms_cls)):
        msg = populated(ms_cls, choice)
        assert (_outcome(wire_transcode.to_internal, msg, internal_cls)
                == _outcome(transcode.to_internal, msg, internal_cls)), choice


@pytest.mark.parametrize(("ms_cls", "internal_cls"), PAIRS, ids=lambda c: c.__name__)
def test_internal_to_ms_matches_the_reflective_copy(ms_cls: Any, internal_cls: Any) -> None:
    # Internal messages carry Dapr-only fields too, at numbers Microsoft uses otherwise.
    for choice in range(oneof_variants(internal_cls)):
        msg = populated(internal_cls, choice)
        assert (_outcome(wire_transcode.to_dialect, msg, ms_cls)
                == _outcome(transcode.to_dialect, msg, ms_cls)), choice


def test_conflicting_numbers_move_and_dapr_only_fields_are_dropped() -> None:
    action = internal.OrchestratorAction(
        id=2, router=internal.TaskRouter(targetAppID="b"),
        scheduleTask=internal.ScheduleTaskAction(name="act", taskExecutionId="t-1",
                                                 tags={"k": "v"}))
    out = wire_transcode.to_dialect(action, ms.OrchestratorAction)
    assert out == ms.OrchestratorAction(
        id=2, scheduleTask=ms.ScheduleTaskAction(name="act", tags={"k": "v"}))
    assert not out.HasField("rewindOrchestration")  # Dapr's router (9) is not a rewind


def test_packed_enum_values_move_by_name() -> None:
    request = ms.GetWorkItemsRequest(capabilities=[ms.WORKER_CAPABILITY_HISTORY_STREAMING])
    inner = wire_transcode.to_internal(request, internal.GetWorkItemsRequest)
    assert inner == transcode.to_internal(request, internal.GetWorkItemsRequest)
    assert list(inner.ms_capabilities) and not list(inner.capabilities)


def test_a_status_the_target_lacks_raises_like_the_reflective_copy() -> None:
    state = internal.OrchestrationState(
        instanceId="i", orchestrationStatus=internal.ORCHESTRATION_STATUS_STALLED)
    with pytest.raises(TranscodeError):
        transcode.to_dialect(state, ms.OrchestrationState)
    with pytest.raises(TranscodeError):
        wire_transcode.to_dialect(state, ms.OrchestrationState)


def test_unknown_enum_numbers_stay_and_recursion_terminates() -> None:
    failure = internal.TaskFailureDetails(
        errorType="E", innerFailure=internal.TaskFailureDetails(
            errorType="F", innerFailure=internal.TaskFailureDetails(errorType="G")))
    assert wire_transcode.to_dialect(failure, ms.TaskFailureDetails) == \
        transcode.to_dialect(failure, ms.TaskFailureDetails)
    state = internal.OrchestrationState(instanceId="i", orchestrationStatus=77)  # type: ignore[arg-type]
    assert wire_transcode.to_dialect(state, ms.OrchestrationState).orchestrationStatus == 77


def test_truncated_bytes_are_a_decode_error() -> None:
    data = populated(internal.OrchestratorRequest).SerializeToString()
    with pytest.raises(DecodeError):
        wire_transcode.transcode_bytes(data[:-3], internal.OrchestratorRequest.DESCRIPTOR,
                                       ms.OrchestratorRequest.DESCRIPTOR)
