"""Payload limits (issue #5): a request or worker result over ``listeners.max_message_size``
is refused with RESOURCE_EXHAUSTED and a message naming the key and both sizes. Only that
one request (or that one instance, for a worker result) is affected; the shared work-item
stream, other instances and the daemon carry on. Work items over the limit are covered in
test_poison.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
from google.protobuf import wrappers_pb2

from tests.server.test_poison import state_of, unary, wait_stalled
from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms_pb
from wfsidecar.app import App
from wfsidecar.config import load

LIMIT = 64 * 1024
OVER = "x" * (LIMIT + 4096)  # over the limit, within grpc's transport headroom
DIALECTS = pytest.mark.parametrize("pb", [dapr_pb, ms_pb], ids=["dapr", "ms"])


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    daemon = App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.sqlite.path": str(tmp_path / "wf.db"),
        "listeners.max_message_size": LIMIT}), configure_logging=False)
    async with running(daemon):
        yield daemon


def channel_to(app: App, pb: ModuleType) -> grpc.aio.Channel:
    assert app.ports is not None
    port = app.ports.dapr_grpc if pb is dapr_pb else app.ports.durabletask_grpc
    return grpc.aio.insecure_channel(f"127.0.0.1:{port}")


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


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


def work_items(channel: grpc.aio.Channel, pb: ModuleType) -> Any:
    return channel.unary_stream("/TaskHubSidecarService/GetWorkItems",
                                request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=pb.WorkItem.FromString)(
        pb.GetWorkItemsRequest())


async def next_item(stream: Any, kind: str) -> Any:
    item = await asyncio.wait_for(stream.read(), 10)
    assert item.WhichOneof("request") == kind, item
    return item


async def complete_turn(channel: grpc.aio.Channel, pb: ModuleType, item: Any,
                        *actions: Any) -> None:
    await unary(channel, "CompleteOrchestratorTask", pb.CompleteTaskResponse)(
        pb.OrchestratorResponse(instanceId=item.orchestratorRequest.instanceId,
                                completionToken=item.completionToken, actions=actions),
        timeout=5)


def schedule(pb: ModuleType) -> Any:
    action = pb.OrchestratorAction(id=0)
    action.scheduleTask.name = "act"
    return action


def finish(pb: ModuleType, output: str) -> Any:
    action = pb.OrchestratorAction(id=1)
    action.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED
    action.completeOrchestration.result.value = output
    return action


@DIALECTS
async def test_oversized_activity_result_holds_back_only_its_instance(
        app: App, pb: ModuleType) -> None:
    async with channel_to(app, pb) as channel:
        stream = work_items(channel, pb)
        start = unary(channel, "StartInstance", pb.CreateInstanceResponse)
        await start(pb.CreateInstanceRequest(instanceId="big", name="wf"), timeout=5)
        await complete_turn(channel, pb, await next_item(stream, "orchestratorRequest"),
                            schedule(pb))
        activity = await next_item(stream, "activityRequest")
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
            turn = await next_item(stream, "orchestratorRequest")
            failed = [e for e in turn.orchestratorRequest.newEvents
                      if e.HasField("taskFailed")]
            assert len(failed) == 1
            details = failed[0].taskFailed.failureDetails
            assert "listeners.max_message_size" in details.errorMessage
            await complete_turn(channel, pb, turn, finish(pb, "handled"))

        # The same stream goes on serving other instances.
        await start(pb.CreateInstanceRequest(instanceId="small", name="wf"), timeout=5)
        turn = await next_item(stream, "orchestratorRequest")
        assert turn.orchestratorRequest.instanceId == "small"
        await complete_turn(channel, pb, turn, finish(pb, "ok"))
        stream.cancel()
        done = await unary(channel, "WaitForInstanceCompletion", pb.GetInstanceResponse)(
            pb.GetInstanceRequest(instanceId="small", getInputsAndOutputs=True), timeout=10)
        assert done.orchestrationState.output.value == "ok"


@DIALECTS
async def test_oversized_orchestrator_result_stalls_or_fails_its_instance(
        app: App, pb: ModuleType) -> None:
    async with channel_to(app, pb) as channel:
        stream = work_items(channel, pb)
        await unary(channel, "StartInstance", pb.CreateInstanceResponse)(
            pb.CreateInstanceRequest(instanceId="big", name="wf"), timeout=5)
        turn = await next_item(stream, "orchestratorRequest")
        response = pb.OrchestratorResponse(instanceId="big", actions=[finish(pb, OVER)],
                                           completionToken=turn.completionToken)
        error = await refused(unary(channel, "CompleteOrchestratorTask",
                                    pb.CompleteTaskResponse)(response, timeout=5))
        assert_names_the_limit(error, response.ByteSize())
        stream.cancel()
        if pb is dapr_pb:
            await wait_stalled(channel, "big")
        else:
            done = await unary(channel, "WaitForInstanceCompletion", pb.GetInstanceResponse)(
                pb.GetInstanceRequest(instanceId="big", getInputsAndOutputs=True),
                timeout=10)
            state = done.orchestrationState
            assert state.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
            assert "listeners.max_message_size" in state.failureDetails.errorMessage
