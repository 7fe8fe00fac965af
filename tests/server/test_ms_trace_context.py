"""Microsoft trace context: the orchestration span a worker reports in one turn's response
comes back in the next turn's request (protocol.md §6, OrchestratorRequest field 8)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc

from tests.test_app import running
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms
from wfsidecar.app import App
from wfsidecar.config import load

SERVICE = "/TaskHubSidecarService/"


def unary(channel: grpc.aio.Channel, method: str, response: Any) -> Any:
    return channel.unary_unary(SERVICE + method,
                               request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=response.FromString)


async def test_orchestration_span_is_echoed_in_the_next_turn(tmp_path: Path) -> None:
    app = App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.sqlite.path": str(tmp_path / "wf.db")}),
        configure_logging=False)
    async with running(app):
        assert app.ports is not None
        async with grpc.aio.insecure_channel(
                f"127.0.0.1:{app.ports.durabletask_grpc}") as channel:
            await unary(channel, "StartInstance", ms.CreateInstanceResponse)(
                ms.CreateInstanceRequest(instanceId="traced", name="flow"), timeout=5)
            stream = channel.unary_stream(
                SERVICE + "GetWorkItems", request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=ms.WorkItem.FromString)(ms.GetWorkItemsRequest())
            first = await asyncio.wait_for(stream.read(), 10)
            assert not first.orchestratorRequest.HasField("orchestrationTraceContext")
            response = ms.OrchestratorResponse(instanceId="traced",
                                               completionToken=first.completionToken)
            response.orchestrationTraceContext.spanID.value = "span-42"
            await unary(channel, "CompleteOrchestratorTask", ms.CompleteTaskResponse)(
                response, timeout=5)
            await unary(channel, "RaiseEvent", ms.RaiseEventResponse)(
                ms.RaiseEventRequest(instanceId="traced", name="go"), timeout=5)
            second = await asyncio.wait_for(stream.read(), 10)
            context = second.orchestratorRequest.orchestrationTraceContext
            assert context.spanID.value == "span-42"
            stream.cancel()
