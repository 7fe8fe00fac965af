"""In-process daemons sharing one PostgreSQL database, and raw-gRPC workers that finish
every workflow they are given with one activity (for the multi-node tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import grpc
from google.protobuf import wrappers_pb2

from tests.server._raw_worker import Worker, channel_to, finish, schedule, unary
from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.app import App
from wfsidecar.config import load


def node(dsn: str, ttl: float = 1.0) -> App:
    return App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.backend": "postgres", "store.postgres.dsn": dsn,
        "store.postgres.partitions": 16, "store.postgres.lease_ttl": ttl}),
        configure_logging=False)


class AutoWorker:
    """Answers every orchestrator request: schedule activity ``act`` first, then finish
    with the activity's result; answers every activity with ``done:<instance>``."""

    def __init__(self, app: App) -> None:
        self.channel = channel_to(app, pb)
        self.worker = Worker(self.channel, pb)
        self.handled: list[str] = []
        self.gate = asyncio.Event()  # activities are answered once it is set
        self.gate.set()

    async def run(self) -> None:
        # Each item answered by its own task: a held activity must not hold up the
        # orchestrator requests behind it (a suspend, a terminate).
        async with asyncio.TaskGroup() as answers:
            try:
                while True:
                    item = await self.worker.stream.read()
                    if item is grpc.aio.EOF:
                        return
                    answers.create_task(self._answer(item))
            except (grpc.aio.AioRpcError, asyncio.CancelledError):
                return

    async def _answer(self, item: Any) -> None:
        kind = item.WhichOneof("request")
        if kind == "activityRequest":
            request = item.activityRequest
            self.handled.append(request.orchestrationInstance.instanceId)
            await self.gate.wait()
            await self.worker.complete(item, result=wrappers_pb2.StringValue(
                value=f'"done:{request.orchestrationInstance.instanceId}"'))
            return
        request = item.orchestratorRequest
        events = (*request.pastEvents, *request.newEvents)
        results = [e.taskCompleted.result.value for e in events if e.HasField("taskCompleted")]
        if results:
            await self.worker.complete(item, actions=[finish(pb, results[0])])
        elif any(e.HasField("taskScheduled") for e in events):
            await self.worker.complete(item, actions=[])  # still waiting for it
        else:
            await self.worker.complete(item, actions=[schedule(pb)])


@asynccontextmanager
async def nodes(dsn: str, count: int, *, workers: int | None = None,
                ttl: float = 1.0) -> AsyncIterator[list[tuple[App, AutoWorker | None]]]:
    """``count`` daemons on ``dsn``; the first ``workers`` (default all) get a worker."""
    async with AsyncExitStack() as stack:
        out: list[tuple[App, AutoWorker | None]] = []
        for n in range(count):
            app = node(dsn, ttl)
            await stack.enter_async_context(running(app))
            worker = None
            if workers is None or n < workers:
                worker = AutoWorker(app)
                task = asyncio.create_task(worker.run())
                stack.push_async_callback(_stop, task, worker.channel)
            out.append((app, worker))
        yield out


async def _stop(task: asyncio.Task[None], channel: grpc.aio.Channel) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await channel.close()


async def start(app: App, instance_id: str) -> None:
    assert app.ports is not None
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as channel:
        await unary(channel, "StartInstance", pb.CreateInstanceResponse)(
            pb.CreateInstanceRequest(instanceId=instance_id, name="flow"), timeout=30)


async def wait_completed(app: App, instance_id: str) -> Any:
    assert app.ports is not None
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as channel:
        response = await unary(channel, "WaitForInstanceCompletion", pb.GetInstanceResponse)(
            pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True),
            timeout=30)
    return response
