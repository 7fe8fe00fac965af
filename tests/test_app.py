"""The composition root in-process: real listeners on port 0, real SQLite file."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from wfsidecar.actors import ActorHost, ReminderResult, TurnContext
from wfsidecar.app import App
from wfsidecar.config import load
from wfsidecar.errors import StartupError
from wfsidecar.types import ActorRef


def make_config(tmp_path: Path, **overrides: object) -> App:
    values: dict[str, object] = {
        "listeners.dapr_grpc.port": 0,
        "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0,
        "listeners.ready_file": str(tmp_path / "ready.json"),
        "store.sqlite.path": str(tmp_path / "db" / "wf.db"),
        "lifecycle.drain_timeout": 2.0,
    }
    values.update(overrides)
    return App(load(None, env={}, overrides=values), configure_logging=False)


class Sleeper:
    def __init__(self, ref: ActorRef, host: ActorHost) -> None:
        pass

    async def on_invoke(self, ctx: TurnContext, method: str, payload: object) -> object:
        await asyncio.sleep(float(str(payload)))
        ctx.put("slept", b"yes")
        return None

    async def on_reminder(self, ctx: TurnContext, name: str, data: bytes) -> ReminderResult:
        return ReminderResult.DONE


@asynccontextmanager
async def running(app: App) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(app.serve(stop.wait))
    ready = asyncio.create_task(app.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def healthz(port: int) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/v1.0/healthz") as resp:
            return resp.status


async def grpc_health(port: int) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        resp = await stub.Check(health_pb2.HealthCheckRequest(service=""))
        return int(resp.status)


async def test_ready_daemon_reports_health_and_ports(tmp_path: Path) -> None:
    app = make_config(tmp_path)
    async with running(app):
        assert app.ports is not None
        ports = json.loads((tmp_path / "ready.json").read_text())
        assert ports["http_port"] == app.ports.http != 0
        bound = {ports["dapr_grpc_port"], ports["durabletask_grpc_port"], ports["http_port"]}
        assert len(bound) == 3
        assert await healthz(app.ports.http) == 204
        for port in (app.ports.dapr_grpc, app.ports.durabletask_grpc):
            assert await grpc_health(port) == health_pb2.HealthCheckResponse.SERVING
    assert not (tmp_path / "ready.json").exists()
    assert (tmp_path / "db" / "wf.db").exists()


async def test_draining_daemon_answers_503_and_finishes_turns(tmp_path: Path) -> None:
    app = App(
        load(None, env={}, overrides={
            "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
            "listeners.http.port": 0, "store.backend": "memory",
            "lifecycle.drain_timeout": 5.0}),
        actor_types={"sleeper": Sleeper}, configure_logging=False,
    )
    async with running(app) as stop:
        assert app.ports is not None and app.runtime is not None
        turn = asyncio.create_task(app.runtime.invoke(ActorRef("sleeper", "s"), "go", 0.5))
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.sleep(0.1)
        assert await healthz(app.ports.http) == 503
        await turn  # the in-flight turn finished inside the drain deadline


async def test_port_in_use_fails_startup_and_unwinds(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = make_config(tmp_path, **{"listeners.durabletask_grpc.port": port})
        expected = f"durabletask listener cannot bind 127.0.0.1:{port}"
        with pytest.raises(StartupError, match=expected):
            await app.serve(asyncio.Event().wait)
    # The store opened before the failure was closed again: a new daemon can take it.
    async with running(make_config(tmp_path)):
        pass
    assert not (tmp_path / "ready.json").exists()


async def test_second_daemon_on_same_database_fails_startup(tmp_path: Path) -> None:
    async with running(make_config(tmp_path)):
        other = make_config(tmp_path)
        with pytest.raises(StartupError, match="in use by another wfsidecar"):
            await other.serve(asyncio.Event().wait)


async def test_extra_listeners_each_serve_one_dialect(tmp_path: Path) -> None:
    from google.protobuf import empty_pb2

    from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb

    app = make_config(tmp_path, **{
        "listeners.extra_grpc": ("dapr@127.0.0.1:0", "ms@127.0.0.1:0")})
    async with running(app):
        assert app.ports is not None
        extra_dapr, extra_ms = app.ports.extra_grpc
        ready = json.loads((tmp_path / "ready.json").read_text())
        assert ready["extra_grpc_ports"] == [extra_dapr, extra_ms]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{extra_dapr}") as channel:
            hello = channel.unary_unary("/TaskHubSidecarService/Hello",
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=empty_pb2.Empty.FromString)
            await hello(empty_pb2.Empty(), timeout=5)
            ids = channel.unary_unary(
                "/TaskHubSidecarService/ListInstanceIDs",  # a Dapr-only method
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=dapr_pb.ListInstanceIDsResponse.FromString)
            await ids(dapr_pb.ListInstanceIDsRequest(), timeout=5)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{extra_ms}") as channel:
            ids = channel.unary_unary(
                "/TaskHubSidecarService/ListInstanceIDs",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=dapr_pb.ListInstanceIDsResponse.FromString)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await ids(dapr_pb.ListInstanceIDsRequest(), timeout=5)
            assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
