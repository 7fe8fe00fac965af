"""CreateTaskHub/DeleteTaskHub: UNIMPLEMENTED unless the test-only switch is on; then a
wipe of every instance, with nothing left to dispatch or fire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.test_app import running
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms
from wfsidecar.app import App
from wfsidecar.config import load

SERVICE = "/TaskHubSidecarService/"


async def call(channel: grpc.aio.Channel, method: str, request: Any, response: Any) -> Any:
    rpc = channel.unary_unary(SERVICE + method, request_serializer=lambda m: m.SerializeToString(),
                              response_deserializer=response.FromString)
    return await rpc(request, timeout=10)


@pytest.fixture
async def channel_for(tmp_path: Path) -> AsyncIterator[Any]:
    apps: list[Any] = []

    async def open_daemon(allow: bool) -> tuple[App, grpc.aio.Channel]:
        app = App(load(None, env={}, overrides={
            "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
            "listeners.http.port": 0, "store.sqlite.path": str(tmp_path / f"{allow}.db"),
            "testing.allow_task_hub_reset": allow}), configure_logging=False)
        context = running(app)
        await context.__aenter__()
        assert app.ports is not None
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.durabletask_grpc}")
        apps.append((context, channel))
        return app, channel

    yield open_daemon
    for context, channel in apps:
        await channel.close()
        await context.__aexit__(None, None, None)


async def test_task_hub_reset_is_off_by_default(channel_for: Any) -> None:
    _, channel = await channel_for(False)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(channel, "DeleteTaskHub", ms.DeleteTaskHubRequest(),
                   ms.DeleteTaskHubResponse)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_delete_task_hub_wipes_every_instance(channel_for: Any) -> None:
    app, channel = await channel_for(True)
    for i in range(3):
        await call(channel, "StartInstance", ms.CreateInstanceRequest(
            instanceId=f"wf{i}", name="flow"), ms.CreateInstanceResponse)
    await call(channel, "SignalEntity", ms.SignalEntityRequest(
        instanceId="@counter@a", name="add", requestId="r1"), ms.SignalEntityResponse)
    await asyncio.sleep(0.2)
    await call(channel, "DeleteTaskHub", ms.DeleteTaskHubRequest(), ms.DeleteTaskHubResponse)
    for i in range(3):
        got = await call(channel, "GetInstance", ms.GetInstanceRequest(instanceId=f"wf{i}"),
                         ms.GetInstanceResponse)
        assert got.exists is False
    entity = await call(channel, "GetEntity", ms.GetEntityRequest(instanceId="@counter@a"),
                        ms.GetEntityResponse)
    assert entity.exists is False
    assert app.service is not None
    # The hub is usable again at once, with the same ids.
    await call(channel, "CreateTaskHub", ms.CreateTaskHubRequest(), ms.CreateTaskHubResponse)
    await call(channel, "StartInstance", ms.CreateInstanceRequest(instanceId="wf0", name="flow"),
               ms.CreateInstanceResponse)
    again = await call(channel, "GetInstance", ms.GetInstanceRequest(instanceId="wf0"),
                       ms.GetInstanceResponse)
    assert again.exists is True
