"""The CLI's test bench: an in-process daemon on free ports, a raw-gRPC worker to move
workflows along, and ``wfsidecar workflow ...`` run against the daemon's HTTP address.

The CLI is synchronous, so each invocation runs in a worker thread while the daemon keeps
serving on the test's event loop; ``$WFSIDECAR_ADDRESS`` points it at the daemon, as an
operator's shell would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
from click.testing import CliRunner, Result
from google.protobuf import wrappers_pb2

from tests.server._raw_worker import Worker, channel_to, daemon, schedule
from tests.test_app import running
from tests.waiting import eventually
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.app import App
from wfsidecar.cli import main
from wfsidecar.client import WorkflowClient

STATUS = {
    "COMPLETED": pb.ORCHESTRATION_STATUS_COMPLETED,
    "FAILED": pb.ORCHESTRATION_STATUS_FAILED,
    "TERMINATED": pb.ORCHESTRATION_STATUS_TERMINATED,
}


class Operator:
    """One daemon, a client of its HTTP API, a worker stream when asked, and the CLI."""

    def __init__(self, app: App, channel: grpc.aio.Channel) -> None:
        assert app.ports is not None
        self.app = app
        self.channel = channel
        self.address = f"http://127.0.0.1:{app.ports.http}"
        self.client = WorkflowClient(self.address)
        self._worker: Worker | None = None

    async def cli(self, *args: str, input: str | None = None,
                  env: dict[str, str] | None = None) -> Result:
        """``wfsidecar workflow *args`` against this daemon (stdin from ``input``)."""
        runner = CliRunner()
        return await asyncio.to_thread(
            runner.invoke, main, ["workflow", *args], input=input,
            env={"WFSIDECAR_ADDRESS": self.address, **(env or {})}, catch_exceptions=False)

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``self.client.<method>(...)`` off the event loop."""
        return await asyncio.to_thread(getattr(self.client, method), *args, **kwargs)

    @property
    def worker(self) -> Worker:
        """A worker stream, opened on first use (tests that need none never open one)."""
        if self._worker is None:
            self._worker = Worker(self.channel, pb)
        return self._worker

    def disconnect_worker(self) -> None:
        if self._worker is not None:
            self._worker.stream.cancel()
            self._worker = None

    async def turn(self, instance_id: str, *, end: str | None = None, output: Any = None,
                   custom_status: str | None = None, failure: str | None = None,
                   schedule_activity: bool = False) -> Any:
        """Answer the next workflow work item, which must be ``instance_id``'s: end it as
        ``end`` says (or keep it running), optionally with a custom status."""
        item = await self.worker.next("orchestratorRequest")
        assert item.orchestratorRequest.instanceId == instance_id, item
        actions = [schedule(pb)] if schedule_activity else []
        if end is not None:
            action = pb.OrchestratorAction(id=1)
            done = action.completeOrchestration
            done.orchestrationStatus = STATUS[end]
            if output is not None:
                done.result.value = json.dumps(output)
            if failure is not None:
                done.failureDetails.errorType = "ValueError"
                done.failureDetails.errorMessage = failure
            actions.append(action)
        fields: dict[str, Any] = {"actions": actions}
        if custom_status is not None:
            fields["customStatus"] = wrappers_pb2.StringValue(value=custom_status)
        await self.worker.accepted(item, **fields)
        return item

    async def started(self, instance_id: str, name: str = "OrderWorkflow", *,
                      input: Any = None, **turn: Any) -> None:
        """Start ``instance_id`` over HTTP, run its first turn as ``turn`` says, and wait
        until the read model shows the result."""
        await self.call("start", name, None if input is None else json.dumps(input),
                        instance_id=instance_id)
        await self.turn(instance_id, **turn)
        await self.wait_status(instance_id, turn.get("end") or "RUNNING")

    async def wait_status(self, instance_id: str, status: str) -> dict[str, Any]:
        """Ask until the instance shows ``status``; fail after 10 s."""
        got: dict[str, Any] = await eventually(
            lambda: self.call("get", instance_id), lambda g: g["runtimeStatus"] == status)
        return got


@asynccontextmanager
async def operating(tmp_path: Path) -> AsyncIterator[Operator]:
    app = daemon(tmp_path / "wf.db")
    async with running(app), channel_to(app, pb) as channel:
        operator = Operator(app, channel)
        try:
            yield operator
        finally:
            operator.disconnect_worker()
            operator.client.close()


def lines(text: str) -> list[list[str]]:
    """A plain table's rows, split into cells on runs of two or more spaces."""
    import re

    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]
