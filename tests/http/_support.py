"""An in-process daemon on free ports, an HTTP client of its API, and a raw Dapr worker.

Everything goes over real sockets: aiohttp's client to the HTTP listener, a raw gRPC
worker (tests/server/_raw_worker.py) to the Dapr listener.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.server._raw_worker import Worker, channel_to
from tests.test_app import running
from tests.waiting import eventually
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.app import App
from wfsidecar.clock import Clock
from wfsidecar.config import load

API = "/v1.0/workflows/dapr"


def daemon(tmp_path: Path, clock: Clock | None = None, **overrides: object) -> App:
    return App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.sqlite.path": str(tmp_path / "wf.db"),
        "lifecycle.drain_timeout": 1.0, **overrides}), clock=clock, configure_logging=False)


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self) -> tuple[int, str]:
        """(status, errorCode) of an error reply."""
        return self.status, self.json()["errorCode"]


class Http:
    """Calls the daemon's HTTP API; every call returns the whole reply."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(self, method: str, path: str, data: Any = None, **kwargs: Any) -> Reply:
        async with self.session.request(method, path, data=data, **kwargs) as response:
            return Reply(response.status, await response.read(), response.content_type,
                         dict(response.headers))

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, data: Any = None, **kwargs: Any) -> Reply:
        return await self.call("POST", path, data, **kwargs)

    async def start(self, name: str, instance_id: str, data: Any = None) -> None:
        reply = await self.post(f"{API}/{name}/start?instanceID={instance_id}", data)
        assert reply.status == 202, reply

    async def status(self, instance_id: str) -> str:
        reply = await self.get(f"{API}/{instance_id}")
        assert reply.status == 200, reply
        return str(reply.json()["runtimeStatus"])

    async def wait_status(self, instance_id: str, wanted: str, within: float = 10) -> None:
        """Poll until the instance reads ``wanted``; fail after ``within`` seconds."""
        await eventually(lambda: self.status(instance_id), lambda s: s == wanted, within)

    async def ids(self, query: str = "") -> list[str]:
        reply = await self.get(f"{API}?pageSize=10000{query}")
        assert reply.status == 200, reply
        return sorted(row["instanceID"] for row in reply.json()["instances"])


@asynccontextmanager
async def served(app: App) -> AsyncIterator[Http]:
    async with running(app):
        assert app.ports is not None
        async with aiohttp.ClientSession(f"http://127.0.0.1:{app.ports.http}") as session:
            yield Http(session)


@asynccontextmanager
async def worker(app: App) -> AsyncIterator[Worker]:
    """A raw Dapr-dialect worker on one stream."""
    async with channel_to(app, pb) as channel:
        raw = Worker(channel, pb)
        try:
            yield raw
        finally:
            raw.stream.cancel()


def complete(output: str | None = None, *, failed: bool = False,
             message: str = "") -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=-1)
    done = action.completeOrchestration
    if failed:
        done.orchestrationStatus = pb.ORCHESTRATION_STATUS_FAILED
        done.failureDetails.errorType = "ValueError"
        done.failureDetails.errorMessage = message
        done.failureDetails.stackTrace.value = "Traceback: line 1"
    else:
        done.orchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED
    if output is not None:
        done.result.value = output
    return action


def schedule(task_id: int, name: str, data: str | None = None) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=task_id)
    action.scheduleTask.name = name
    if data is not None:
        action.scheduleTask.input.value = data
    return action


def timer(task_id: int, fire_at_ms: int) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=task_id)
    action.createTimer.fireAt.FromMilliseconds(fire_at_ms)
    return action


def version_not_available() -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=-1)
    action.orchestratorVersionNotAvailable.SetInParent()
    return action


__all__ = ["API", "Http", "Reply", "Worker", "complete", "daemon", "schedule", "served",
           "timer", "version_not_available", "worker"]
