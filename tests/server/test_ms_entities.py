"""Durable entities over the Microsoft listener, with a hand-driven worker: the batch work
item, completion by token, state and queue surviving a restart, stale completions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.test_app import running
from wfsidecar._proto.ms import orchestrator_service_pb2 as pb
from wfsidecar.app import App
from wfsidecar.config import load

SERVICE = "/TaskHubSidecarService/"
EID = "@counter@k1"


class Client:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel

    async def call(self, method: str, request: Any, response: Any) -> Any:
        rpc = self.channel.unary_unary(SERVICE + method,
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=response.FromString)
        return await rpc(request, timeout=10)

    async def signal(self, op: str, input: str | None = None) -> None:
        request = pb.SignalEntityRequest(instanceId=EID, name=op, requestId=f"r-{op}")
        if input is not None:
            request.input.value = input
        await self.call("SignalEntity", request, pb.SignalEntityResponse)

    async def get(self, include_state: bool = True) -> Any:
        return await self.call("GetEntity", pb.GetEntityRequest(
            instanceId=EID, includeState=include_state), pb.GetEntityResponse)

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[Any]:
        """A GetWorkItems stream, open until the block ends (closing it re-queues)."""
        rpc = self.channel.unary_stream(SERVICE + "GetWorkItems",
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=pb.WorkItem.FromString)
        stream = rpc(pb.GetWorkItemsRequest())
        try:
            yield stream
        finally:
            stream.cancel()

    @staticmethod
    async def next_item(stream: Any) -> Any:
        async with asyncio.timeout(10):
            while True:
                item = await stream.read()
                if item.HasField("entityRequest"):
                    return item

    async def complete(self, token: str, state: str | None, results: int) -> None:
        result = pb.EntityBatchResult(completionToken=token, results=[
            pb.OperationResult(success=pb.OperationResultSuccess()) for _ in range(results)])
        if state is not None:
            result.entityState.value = state
        await self.call("CompleteEntityTask", result, pb.CompleteTaskResponse)


def make_app(tmp_path: Path) -> App:
    return App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.sqlite.path": str(tmp_path / "wf.db")}),
        configure_logging=False)


@asynccontextmanager
async def daemon(tmp_path: Path) -> AsyncIterator[Client]:
    app = make_app(tmp_path)
    async with running(app):
        assert app.ports is not None
        address = f"127.0.0.1:{app.ports.durabletask_grpc}"
        async with grpc.aio.insecure_channel(address) as channel:
            yield Client(channel)


async def test_signal_dispatch_complete_get(tmp_path: Path) -> None:
    async with daemon(tmp_path) as client:
        assert not (await client.get()).exists
        await client.signal("add", "1")
        async with client.worker() as stream:
            item = await client.next_item(stream)
            batch = item.entityRequest
            assert batch.instanceId == EID and not batch.HasField("entityState")
            assert [(o.operation, o.input.value) for o in batch.operations] == [("add", "1")]
            await client.complete(item.completionToken, "1", 1)
            await client.signal("add", "2")
            item = await client.next_item(stream)
            assert item.entityRequest.entityState.value == "1"
            await client.complete(item.completionToken, "3", 1)
        got = await client.get()
        assert got.exists and got.entity.serializedState.value == "3"
        assert got.entity.backlogQueueSize == 0 and not got.entity.HasField("lockedBy")
        assert not (await client.get(include_state=False)).entity.HasField("serializedState")
        with pytest.raises(grpc.aio.AioRpcError) as err:  # the token is spent
            await client.complete(item.completionToken, "99", 2)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_queue_and_state_survive_a_restart(tmp_path: Path) -> None:
    async with daemon(tmp_path) as client:
        await client.signal("set", "7")
        async with client.worker() as stream:
            item = await client.next_item(stream)
            await client.complete(item.completionToken, "7", 1)
            await client.signal("add", "1")  # dispatched; its worker never answers
            item = await client.next_item(stream)
            assert item.entityRequest.operations[0].operation == "add"
    async with daemon(tmp_path) as client:
        got = await client.get()
        assert got.entity.serializedState.value == "7" and got.entity.backlogQueueSize == 1
        async with client.worker() as stream:
            item = await client.next_item(stream)  # the parked reminder fires again
            assert item.entityRequest.entityState.value == "7"
            await client.complete(item.completionToken, "8", 1)
        assert (await client.get()).entity.serializedState.value == "8"


async def test_bad_entity_id_is_invalid_argument(tmp_path: Path) -> None:
    async with daemon(tmp_path) as client:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.call("SignalEntity", pb.SignalEntityRequest(
                instanceId="not-an-entity", name="x"), pb.SignalEntityResponse)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_failed_batch_is_run_again(tmp_path: Path) -> None:
    async with daemon(tmp_path) as client:
        await client.signal("add", "1")
        async with client.worker() as stream:
            item = await client.next_item(stream)
            failed = pb.EntityBatchResult(completionToken=item.completionToken)
            failed.failureDetails.errorMessage = "worker broke"
            await client.call("CompleteEntityTask", failed, pb.CompleteTaskResponse)
            again = await client.next_item(stream)
            assert again.completionToken != item.completionToken
            assert [o.operation for o in again.entityRequest.operations] == ["add"]
            await client.complete(again.completionToken, "1", 1)
        assert (await client.get()).entity.serializedState.value == "1"


async def test_lock_is_granted_and_an_orphaned_lock_released(tmp_path: Path) -> None:
    async with daemon(tmp_path) as client:
        await client.call("StartInstance", pb.CreateInstanceRequest(instanceId="orch",
                                                                   name="locker"),
                          pb.CreateInstanceResponse)
        async with client.worker() as stream:
            async with asyncio.timeout(10):
                item = await stream.read()
            assert item.HasField("orchestratorRequest")
            action = pb.OrchestratorAction(id=0)
            req = action.sendEntityMessage.entityLockRequested
            req.criticalSectionId = "cs1"
            req.lockSet.append(EID)
            req.parentInstanceId.value = "orch"
            await client.call("CompleteOrchestratorTask", pb.OrchestratorResponse(
                instanceId="orch", actions=[action], completionToken=item.completionToken),
                pb.CompleteTaskResponse)
            async with asyncio.timeout(10):
                item = await stream.read()  # the grant, without any entity worker
            kinds = [e.WhichOneof("eventType") for e in item.orchestratorRequest.newEvents]
            assert "entityLockGranted" in kinds
            assert (await client.get()).entity.lockedBy.value == "orch"
            clean = await client.call("CleanEntityStorage", pb.CleanEntityStorageRequest(
                releaseOrphanedLocks=True), pb.CleanEntityStorageResponse)
            assert clean.orphanedLocksReleased == 0  # the owner is running
            # The orchestration ends inside its critical section, never unlocking.
            done = pb.OrchestratorAction(id=1)
            done.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED
            await client.call("CompleteOrchestratorTask", pb.OrchestratorResponse(
                instanceId="orch", actions=[done], completionToken=item.completionToken),
                pb.CompleteTaskResponse)
        clean = await client.call("CleanEntityStorage", pb.CleanEntityStorageRequest(
            removeEmptyEntities=True, releaseOrphanedLocks=False), pb.CleanEntityStorageResponse)
        assert clean.orphanedLocksReleased == 0 and clean.emptyEntitiesRemoved == 0
        clean = await client.call("CleanEntityStorage", pb.CleanEntityStorageRequest(
            releaseOrphanedLocks=True), pb.CleanEntityStorageResponse)
        assert clean.orphanedLocksReleased == 1
        assert not (await client.get()).exists  # no state and no lock: gone for clients
