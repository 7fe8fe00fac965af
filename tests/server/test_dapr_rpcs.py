"""Dapr-dialect RPCs over a real gRPC channel to an in-process daemon: argument checks,
status codes, scheduled start, long-poll cleanup, stale completions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2

from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.app import App
from wfsidecar.config import load

SERVICE = "/TaskHubSidecarService/"


class Client:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel

    async def call(self, method: str, request: Any, response: Any, deadline: float = 10) -> Any:
        rpc = self.channel.unary_unary(SERVICE + method,
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=response.FromString)
        return await rpc(request, timeout=deadline)

    def work_items(self, request: pb.GetWorkItemsRequest) -> Any:
        rpc = self.channel.unary_stream(SERVICE + "GetWorkItems",
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=pb.WorkItem.FromString)
        return rpc(request)

    async def start(self, instance_id: str, **fields: Any) -> Any:
        return await self.call("StartInstance", pb.CreateInstanceRequest(
            instanceId=instance_id, name=fields.pop("name", "wf"), **fields),
            pb.CreateInstanceResponse)

    async def get(self, instance_id: str) -> Any:
        return await self.call("GetInstance", pb.GetInstanceRequest(
            instanceId=instance_id, getInputsAndOutputs=True), pb.GetInstanceResponse)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[tuple[App, Client]]:
    app = App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.sqlite.path": str(tmp_path / "wf.db")}),
        configure_logging=False)
    async with running(app):
        assert app.ports is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as channel:
            yield app, Client(channel)


async def complete_next_turn(client: Client, output: str) -> pb.WorkItem:
    """Act as a worker for one orchestrator turn: complete the instance with ``output``."""
    stream = client.work_items(pb.GetWorkItemsRequest())
    item = await asyncio.wait_for(stream.read(), 10)
    request = item.orchestratorRequest
    action = pb.OrchestratorAction(id=-1)
    action.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED
    action.completeOrchestration.result.value = output
    await client.call("CompleteOrchestratorTask", pb.OrchestratorResponse(
        instanceId=request.instanceId, actions=[action], completionToken=item.completionToken),
        pb.CompleteTaskResponse)
    stream.cancel()
    return item


async def test_hello_and_unknown_instance(daemon: tuple[App, Client]) -> None:
    _, client = daemon
    await client.call("Hello", empty_pb2.Empty(), empty_pb2.Empty)
    missing = await client.get("nope")
    assert missing.exists is False
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.call("RaiseEvent", pb.RaiseEventRequest(instanceId="nope", name="e"),
                          pb.RaiseEventResponse)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(("instance_id", "name", "fragment"), [
    ("x" * 65, "wf", "limit is 64"),
    ("bad id!", "wf", "only letters, digits"),
    ("ok", "", "name is required"),
])
async def test_invalid_start_is_invalid_argument(
    daemon: tuple[App, Client], instance_id: str, name: str, fragment: str
) -> None:
    _, client = daemon
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.start(instance_id, name=name)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in (raised.value.details() or "")


async def test_duplicate_ids_and_replacing_terminal_instances(
    daemon: tuple[App, Client]
) -> None:
    _, client = daemon
    await client.start("dup")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.start("dup")
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    await complete_next_turn(client, '"first"')
    done = await client.call("WaitForInstanceCompletion", pb.GetInstanceRequest(
        instanceId="dup", getInputsAndOutputs=True), pb.GetInstanceResponse)
    assert done.orchestrationState.output.value == '"first"'
    with pytest.raises(grpc.aio.AioRpcError) as unique:  # 1.19 enforceUniqueInstanceId
        await client.start("dup", enforceUniqueInstanceId=True)
    assert unique.value.code() == grpc.StatusCode.ALREADY_EXISTS
    await client.start("dup")  # 1.18: a terminal instance is replaced
    state = await client.get("dup")
    assert state.orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING


async def test_scheduled_start_holds_the_first_turn(daemon: tuple[App, Client]) -> None:
    _, client = daemon
    request = {"scheduledStartTimestamp": None}
    from google.protobuf import timestamp_pb2

    when = timestamp_pb2.Timestamp()
    when.FromMilliseconds(int(time.time() * 1000) + 1500)
    request["scheduledStartTimestamp"] = when
    await client.start("later", **request)
    stream = client.work_items(pb.GetWorkItemsRequest())
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(asyncio.ensure_future(stream.read())), 0.8)
    stream.cancel()
    started = time.monotonic()
    item = await complete_next_turn(client, "1")
    assert item.orchestratorRequest.instanceId == "later"
    assert time.monotonic() - started < 5


async def test_stale_completion_is_refused_and_waiters_do_not_leak(
    daemon: tuple[App, Client]
) -> None:
    app, client = daemon
    await client.start("w1")
    with pytest.raises(grpc.aio.AioRpcError) as deadline:
        await client.call("WaitForInstanceCompletion", pb.GetInstanceRequest(instanceId="w1"),
                          pb.GetInstanceResponse, deadline=0.3)
    assert deadline.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.sleep(0.1)
    assert app.service is not None and app.service._waiters.count == 0
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await client.call("CompleteOrchestratorTask", pb.OrchestratorResponse(
            instanceId="w1", completionToken="not-a-token"), pb.CompleteTaskResponse)
    assert stale.value.code() == grpc.StatusCode.NOT_FOUND
    assert "unknown instance ID/task ID combo" in (stale.value.details() or "")


async def test_purge_running_needs_force_and_list_pages(daemon: tuple[App, Client]) -> None:
    _, client = daemon
    for i in range(5):
        await client.start(f"p{i}")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.call("PurgeInstances", pb.PurgeInstancesRequest(instanceId="p0"),
                          pb.PurgeInstancesResponse)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    forced = await client.call("PurgeInstances", pb.PurgeInstancesRequest(
        instanceId="p0", force=True), pb.PurgeInstancesResponse)
    assert forced.deletedInstanceCount == 1
    seen, token = [], None
    while True:
        request = pb.ListInstanceIDsRequest(pageSize=2)
        if token:
            request.continuationToken = token
        page = await client.call("ListInstanceIDs", request, pb.ListInstanceIDsResponse)
        seen.extend(page.instanceIds)
        token = page.continuationToken or None
        if not token:
            break
    assert seen == ["p1", "p2", "p3", "p4"]
    with pytest.raises(grpc.aio.AioRpcError) as history:
        await client.call("GetInstanceHistory", pb.GetInstanceHistoryRequest(instanceId="p0"),
                          pb.GetInstanceHistoryResponse)
    assert history.value.code() == grpc.StatusCode.NOT_FOUND
