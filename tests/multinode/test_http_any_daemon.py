"""The HTTP API and the CLI on a daemon that does not own the instance: start, read,
suspend, resume, terminate and purge all reach the owner through the store."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner

from tests.multinode._nodes import AutoWorker, nodes
from tests.waiting import eventually
from wfsidecar.app import App
from wfsidecar.cli import main
from wfsidecar.client import WorkflowClient


async def _owned(app: App) -> int:
    assert app.cluster is not None
    return len(app.cluster.leases.tokens())


async def test_http_and_cli_calls_on_the_daemon_without_the_instance(pg_database: str) -> None:
    async with nodes(pg_database, 2, workers=1) as [(a, wa), (b, _)]:
        assert wa is not None and b.ports is not None
        await eventually(lambda: _owned(a), lambda n: n == 16)
        wa.gate.clear()  # the instance stays RUNNING until terminated
        address = f"http://127.0.0.1:{b.ports.http}"
        client = WorkflowClient(address)
        try:
            started = await asyncio.to_thread(client.start, "flow", instance_id="via-b")
            assert started == "via-b"

            async def status() -> str:
                return (await asyncio.to_thread(client.get, "via-b"))["runtimeStatus"]

            await eventually(lambda: _handled(wa), lambda ids: "via-b" in ids)
            assert await status() == "RUNNING"
            await asyncio.to_thread(client.suspend, "via-b")
            await eventually(status, lambda s: s == "SUSPENDED")
            await asyncio.to_thread(client.resume, "via-b")
            await eventually(status, lambda s: s == "RUNNING")
            cli = await asyncio.to_thread(
                CliRunner().invoke, main, ["workflow", "terminate", "via-b"],
                env={"WFSIDECAR_ADDRESS": address}, catch_exceptions=False)
            assert cli.exit_code == 0, cli.output
            await eventually(status, lambda s: s == "TERMINATED")
            await asyncio.to_thread(client.purge, "via-b")
            listed = await asyncio.to_thread(client.count)
            assert listed == 0
        finally:
            wa.gate.set()
            client.close()


async def _handled(worker: AutoWorker) -> list[str]:
    return worker.handled
