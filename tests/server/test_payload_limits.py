"""Payload limits (issue #5): a request or worker result over ``listeners.max_message_size``
is refused with RESOURCE_EXHAUSTED and a message naming the key and both sizes. Only that
one request (or that one instance, for a worker result) is affected; the shared work-item
stream, other instances and the daemon carry on. Work items over the limit are covered in
test_poison.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import grpc
import pytest
from google.protobuf import wrappers_pb2

from tests.server._raw_worker import (
    Worker,
    channel_to,
    daemon,
    finish,
    refused,
    schedule,
    unary,
)
from tests.server.test_poison import state_of, wait_stalled
from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms_pb
from wfsidecar.app import App

LIMIT = 64 * 1024
OVER = "x" * (LIMIT + 4096)  # over the limit, within grpc's transport headroom
DIALECTS = pytest.mark.parametrize("pb", [dapr_pb, ms_pb], ids=["dapr", "ms"])


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    limited = daemon(tmp_path / "wf.db", {"listeners.max_message_size": LIMIT})
    async with running(limited):
        yield limited


def assert_names_the_limit(error: grpc.aio.AioRpcError, size: int) -> None:
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    details = error.details() or ""
    assert "listeners.max_message_size" in details, details
    assert f"{LIMIT} bytes" in details and str(size) in details, details


@DIALECTS
async def test_oversized_client_requests_are_refused_naming_the_limit(
        app: App, pb: ModuleType) -> None:
    async with channel_to(app, pb) as channel:
        start = unary(channel, "StartInstance", pb.CreateInstanceResponse)
        big = pb.CreateInstanceRequest(instanceId="big", name="wf")
        big.input.value = OVER
        assert_names_the_limit(await refused(start(big, timeout=5)), big.ByteSize())
        got = await unary(channel, "GetInstance", pb.GetInstanceResponse)(
            pb.GetInstanceRequest(instanceId="big"), timeout=5)
        assert not got.exists  # nothing stored for it

        await start(pb.CreateInstanceRequest(instanceId="small", name="wf"), timeout=5)
        event = pb.RaiseEventRequest(instanceId="small", name="e")
        event.input.value = OVER
        assert_names_the_limit(
            await refused(unary(channel, "RaiseEvent", pb.RaiseEventResponse)(
                event, timeout=5)), event.ByteSize())
        # Far beyond the limit grpc refuses it itself (still RESOURCE_EXHAUSTED).
        huge = pb.CreateInstanceRequest(instanceId="huge", name="wf")
        huge.input.value = "x" * (3 * LIMIT)
        error = await refused(start(huge, timeout=5))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

        # The daemon and the other instance are untouched.
        await start(pb.CreateInstanceRequest(instanceId="after", name="wf"), timeout=5)
        assert (await state_of(channel, pb, "small")).instanceId == "small"
        assert (await state_of(channel, pb, "after")).instanceId == "after"


@DIALECTS
async def test_oversized_activity_result_holds_back_only_its_instance(
        app: App, pb: ModuleType) -> None:
    async with channel_to(app, pb) as channel:
        worker = Worker(channel, pb)
        start = unary(channel, "StartInstance", pb.CreateInstanceResponse)
        await start(pb.CreateInstanceRequest(instanceId="big", name="wf"), timeout=5)
        await worker.accepted(await worker.next("orchestratorRequest"),
                              actions=[schedule(pb)])
        activity = await worker.next("activityRequest")
        result = pb.ActivityResponse(
            instanceId="big", taskId=activity.activityRequest.taskId,
            completionToken=activity.completionToken,
            result=wrappers_pb2.StringValue(value=OVER))
        error = await refused(unary(channel, "CompleteActivityTask", pb.CompleteTaskResponse)(
            result, timeout=5))
        assert_names_the_limit(error, result.ByteSize())

        if pb is dapr_pb:
            await wait_stalled(channel, "big")
            history = await unary(channel, "GetInstanceHistory",
                                  pb.GetInstanceHistoryResponse)(
                pb.GetInstanceHistoryRequest(instanceId="big"), timeout=5)
            reason = history.events[-1].executionStalled.description
            assert "listeners.max_message_size" in reason and "activity 'act'" in reason
        else:
            # Microsoft: the orchestration sees the activity fail and may handle it.
            turn = await worker.next("orchestratorRequest")
            failed = [e for e in turn.orchestratorRequest.newEvents
                      if e.HasField("taskFailed")]
            assert len(failed) == 1
            details = failed[0].taskFailed.failureDetails
            assert "listeners.max_message_size" in details.errorMessage
            await worker.accepted(turn, actions=[finish(pb, "handled")])

        # The same stream goes on serving other instances.
        await start(pb.CreateInstanceRequest(instanceId="small", name="wf"), timeout=5)
        turn = await worker.next("orchestratorRequest")
        assert turn.orchestratorRequest.instanceId == "small"
        await worker.accepted(turn, actions=[finish(pb, "ok")])
        worker.stream.cancel()
        done = await unary(channel, "WaitForInstanceCompletion", pb.GetInstanceResponse)(
            pb.GetInstanceRequest(instanceId="small", getInputsAndOutputs=True), timeout=10)
        assert done.orchestrationState.output.value == "ok"


@DIALECTS
async def test_oversized_orchestrator_result_stalls_or_fails_its_instance(
        app: App, pb: ModuleType) -> None:
    async with channel_to(app, pb) as channel:
        worker = Worker(channel, pb)
        await unary(channel, "StartInstance", pb.CreateInstanceResponse)(
            pb.CreateInstanceRequest(instanceId="big", name="wf"), timeout=5)
        turn = await worker.next("orchestratorRequest")
        response = pb.OrchestratorResponse(instanceId="big", actions=[finish(pb, OVER)],
                                           completionToken=turn.completionToken)
        error = await refused(unary(channel, "CompleteOrchestratorTask",
                                    pb.CompleteTaskResponse)(response, timeout=5))
        assert_names_the_limit(error, response.ByteSize())
        worker.stream.cancel()
        if pb is dapr_pb:
            await wait_stalled(channel, "big")
        else:
            done = await unary(channel, "WaitForInstanceCompletion", pb.GetInstanceResponse)(
                pb.GetInstanceRequest(instanceId="big", getInputsAndOutputs=True),
                timeout=10)
            state = done.orchestrationState
            assert state.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
            assert "listeners.max_message_size" in state.failureDetails.errorMessage
