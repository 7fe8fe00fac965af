"""A daemon on free ports and a raw-gRPC app worker, shared by the server tests.

The worker speaks ``TaskHubSidecarService`` directly (no SDK), in either dialect, so a test
controls exactly what is answered, when, and what the daemon said back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest

from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb
from wfsidecar.app import App
from wfsidecar.config import load

SERVICE = "/TaskHubSidecarService/"


def daemon(db: Path, overrides: dict[str, object] | None = None) -> App:
    """An app on free ports with its SQLite file at ``db``, plus any config ``overrides``."""
    return App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.sqlite.path": str(db), **(overrides or {})}),
        configure_logging=False)


def channel_to(app: App, pb: ModuleType) -> grpc.aio.Channel:
    """A channel to the listener of ``pb``'s dialect."""
    assert app.ports is not None
    port = app.ports.dapr_grpc if pb is dapr_pb else app.ports.durabletask_grpc
    return grpc.aio.insecure_channel(f"127.0.0.1:{port}")


def unary(channel: grpc.aio.Channel, method: str, response: Any) -> Any:
    return channel.unary_unary(SERVICE + method,
                               request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=response.FromString)


def work_items(channel: grpc.aio.Channel, pb: ModuleType) -> Any:
    return channel.unary_stream(SERVICE + "GetWorkItems",
                                request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=pb.WorkItem.FromString)(
        pb.GetWorkItemsRequest())


async def refused(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


def schedule(pb: ModuleType, name: str = "act") -> Any:
    action = pb.OrchestratorAction(id=0)
    action.scheduleTask.name = name
    return action


def finish(pb: ModuleType, output: str) -> Any:
    action = pb.OrchestratorAction(id=1)
    action.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED
    action.completeOrchestration.result.value = output
    return action


class Worker:
    """A raw-gRPC app worker on one stream that answers what the test tells it to."""

    def __init__(self, channel: grpc.aio.Channel, pb: ModuleType) -> None:
        self.channel = channel
        self.pb = pb
        self.stream = work_items(channel, pb)
        self.last_error = ""

    async def next(self, kind: str) -> Any:
        item = await asyncio.wait_for(self.stream.read(), 10)
        assert item.WhichOneof("request") == kind, item
        return item

    async def complete(self, item: Any, **fields: Any) -> grpc.StatusCode:
        """Answer ``item`` with ``fields``; the status the daemon gave the answer."""
        pb = self.pb
        if item.WhichOneof("request") == "activityRequest":
            request = pb.ActivityResponse(
                instanceId=item.activityRequest.orchestrationInstance.instanceId,
                taskId=item.activityRequest.taskId, completionToken=item.completionToken,
                **fields)
            call = unary(self.channel, "CompleteActivityTask", pb.CompleteTaskResponse)
        else:
            request = pb.OrchestratorResponse(
                instanceId=item.orchestratorRequest.instanceId,
                completionToken=item.completionToken, **fields)
            call = unary(self.channel, "CompleteOrchestratorTask", pb.CompleteTaskResponse)
        try:
            await call(request, timeout=10)
        except grpc.aio.AioRpcError as exc:
            self.last_error = exc.details() or ""
            return exc.code()
        return grpc.StatusCode.OK

    async def accepted(self, item: Any, **fields: Any) -> None:
        """Answer ``item`` and require the daemon to take the answer."""
        code = await self.complete(item, **fields)
        assert code == grpc.StatusCode.OK, (code, self.last_error)

    async def answer_until_accepted(self, kind: str, **fields: Any) -> Any:
        """Answer work items of ``kind`` until one answer is taken; a re-dispatch whose
        earlier copy was superseded is refused as stale (NOT_FOUND) and skipped."""
        while True:
            item = await self.next(kind)
            code = await self.complete(item, **fields)
            if code == grpc.StatusCode.OK:
                return item
            assert code == grpc.StatusCode.NOT_FOUND, (code, self.last_error)


@asynccontextmanager
async def flow_started(app: App, pb: ModuleType = dapr_pb,
                       ) -> AsyncIterator[tuple[grpc.aio.Channel, Worker]]:
    """Run ``app`` with a :class:`Worker` of ``pb``'s dialect connected and instance
    ``wf`` of workflow ``flow`` started."""
    async with running(app), channel_to(app, pb) as channel:
        worker = Worker(channel, pb)
        await unary(channel, "StartInstance", pb.CreateInstanceResponse)(
            pb.CreateInstanceRequest(instanceId="wf", name="flow"), timeout=5)
        yield channel, worker
