"""Work that keeps killing its worker is surfaced, never retried in a hot loop forever:
STALLED with a reason in the Dapr dialect, a clear failure in the Microsoft dialect."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc

from tests.server._raw_worker import unary, work_items
from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms_pb
from wfsidecar.app import App
from wfsidecar.config import load


def daemon(tmp_path: Path) -> App:
    return App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.sqlite.path": str(tmp_path / "wf.db"),
        "work_items.max_attempts": 3, "work_items.redispatch_initial": 0.05}),
        configure_logging=False)


async def crash_on_next_item(channel: grpc.aio.Channel, pb: ModuleType,
                             wait: float = 10) -> Any:
    """Open a worker stream, take one work item, and drop the stream like a crashed app."""
    stream = work_items(channel, pb)
    try:
        item = await asyncio.wait_for(stream.read(), wait)
    finally:
        stream.cancel()
    await asyncio.sleep(0.05)
    return item


async def crash_until_given_up(channel: grpc.aio.Channel) -> list[Any]:
    """Crash on every dispatch until the daemon stops sending the item. The first dispatch
    may already have gone to a stream the test just closed, which counts as a crash too."""
    items = []
    while True:
        try:
            items.append(await crash_on_next_item(channel, dapr_pb, wait=2))
        except TimeoutError:
            return items


async def wait_stalled(channel: grpc.aio.Channel, instance_id: str) -> None:
    for _ in range(300):
        state = await state_of(channel, dapr_pb, instance_id)
        if state.orchestrationStatus == dapr_pb.ORCHESTRATION_STATUS_STALLED:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{instance_id} never became STALLED: {state}")


async def state_of(channel: grpc.aio.Channel, pb: ModuleType, instance_id: str) -> Any:
    got = await unary(channel, "GetInstance", pb.GetInstanceResponse)(
        pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True), timeout=5)
    return got.orchestrationState


async def test_dapr_orchestrator_poison_stalls_with_a_reason(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with running(app):
        assert app.ports is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as channel:
            await unary(channel, "StartInstance", dapr_pb.CreateInstanceResponse)(
                dapr_pb.CreateInstanceRequest(instanceId="bad", name="flow"), timeout=5)
            # The first turn succeeds (so there is a history), then every turn crashes.
            stream = work_items(channel, dapr_pb)
            turn = await asyncio.wait_for(stream.read(), 10)
            await unary(channel, "CompleteOrchestratorTask", dapr_pb.CompleteTaskResponse)(
                dapr_pb.OrchestratorResponse(instanceId="bad",
                                             completionToken=turn.completionToken), timeout=5)
            stream.cancel()
            await unary(channel, "RaiseEvent", dapr_pb.RaiseEventResponse)(
                dapr_pb.RaiseEventRequest(instanceId="bad", name="go"), timeout=5)
            items = await crash_until_given_up(channel)
            assert 2 <= len(items) <= 3
            assert {i.orchestratorRequest.instanceId for i in items} == {"bad"}
            await wait_stalled(channel, "bad")
            history = await unary(channel, "GetInstanceHistory",
                                  dapr_pb.GetInstanceHistoryResponse)(
                dapr_pb.GetInstanceHistoryRequest(instanceId="bad"), timeout=5)
            reason = history.events[-1].executionStalled.description
            assert "orchestration turn was dispatched 3 times" in reason


async def test_ms_orchestrator_poison_fails_the_instance_clearly(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with running(app):
        assert app.ports is not None
        async with grpc.aio.insecure_channel(
                f"127.0.0.1:{app.ports.durabletask_grpc}") as channel:
            await unary(channel, "StartInstance", ms_pb.CreateInstanceResponse)(
                ms_pb.CreateInstanceRequest(instanceId="bad", name="flow"), timeout=5)
            for _ in range(3):
                await crash_on_next_item(channel, ms_pb)
            done = await unary(channel, "WaitForInstanceCompletion", ms_pb.GetInstanceResponse)(
                ms_pb.GetInstanceRequest(instanceId="bad", getInputsAndOutputs=True),
                timeout=10)
            state = done.orchestrationState
            assert state.orchestrationStatus == ms_pb.ORCHESTRATION_STATUS_FAILED
            assert state.failureDetails.errorType == "WorkItemPoisoned"
            assert "dispatched 3 times" in state.failureDetails.errorMessage


async def test_dapr_poisoned_activity_stalls_the_running_instance(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with running(app):
        assert app.ports is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as channel:
            await unary(channel, "StartInstance", dapr_pb.CreateInstanceResponse)(
                dapr_pb.CreateInstanceRequest(instanceId="act", name="flow"), timeout=5)
            stream = work_items(channel, dapr_pb)
            turn = await asyncio.wait_for(stream.read(), 10)
            action = dapr_pb.OrchestratorAction(id=0)
            action.scheduleTask.name = "explode"
            await unary(channel, "CompleteOrchestratorTask", dapr_pb.CompleteTaskResponse)(
                dapr_pb.OrchestratorResponse(instanceId="act", actions=[action],
                                             completionToken=turn.completionToken), timeout=5)
            stream.cancel()
            # The activity may already have gone out on the stream just cancelled (that
            # counts as a lost worker too), so crash until it stops coming back.
            items = await crash_until_given_up(channel)
            assert 2 <= len(items) <= 3
            assert {i.activityRequest.name for i in items} == {"explode"}
            await wait_stalled(channel, "act")
            history = await unary(channel, "GetInstanceHistory",
                                  dapr_pb.GetInstanceHistoryResponse)(
                dapr_pb.GetInstanceHistoryRequest(instanceId="act"), timeout=5)
            stalled = [e for e in history.events if e.HasField("executionStalled")]
            reason = stalled[-1].executionStalled.description
            assert "activity 'explode' was dispatched 3 times" in reason


async def test_oversized_work_item_stalls_only_its_instance(tmp_path: Path) -> None:
    app = App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.sqlite.path": str(tmp_path / "wf.db"),
        "listeners.max_message_size": 64 * 1024}), configure_logging=False)
    async with running(app):
        assert app.ports is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as channel:
            start = unary(channel, "StartInstance", dapr_pb.CreateInstanceResponse)
            big = dapr_pb.CreateInstanceRequest(instanceId="big", name="flow")
            big.input.value = "x" * 40_000
            await start(big, timeout=5)
            stream = work_items(channel, dapr_pb)
            first = await asyncio.wait_for(stream.read(), 10)
            await unary(channel, "CompleteOrchestratorTask", dapr_pb.CompleteTaskResponse)(
                dapr_pb.OrchestratorResponse(instanceId="big",
                                             completionToken=first.completionToken), timeout=5)
            # Each request fits the limit; the next turn (history + event) does not.
            event = dapr_pb.RaiseEventRequest(instanceId="big", name="more")
            event.input.value = "y" * 40_000
            await unary(channel, "RaiseEvent", dapr_pb.RaiseEventResponse)(event, timeout=5)
            await asyncio.sleep(0.2)
            await start(dapr_pb.CreateInstanceRequest(instanceId="small", name="flow"),
                        timeout=5)
            item = await asyncio.wait_for(stream.read(), 10)  # the same stream lives on
            assert item.orchestratorRequest.instanceId == "small"
            stream.cancel()
            await wait_stalled(channel, "big")
            history = await unary(channel, "GetInstanceHistory",
                                  dapr_pb.GetInstanceHistoryResponse)(
                dapr_pb.GetInstanceHistoryRequest(instanceId="big"), timeout=5)
            reason = history.events[-1].executionStalled.description
            assert "listeners.max_message_size" in reason
