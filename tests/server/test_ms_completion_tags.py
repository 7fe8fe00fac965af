"""Microsoft completion tags (issue #10 item 5): ``CompleteOrchestrationAction.tags`` (field
7) are merged into the instance's tags, and GetInstance and QueryInstances report them.

No released Python SDK sets them (durabletask 1.12 never fills the field), so a raw
Microsoft-dialect worker answers the turn, as the other server tests do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.server._raw_worker import Worker, channel_to, daemon, unary
from tests.test_app import running
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms


async def _tags(channel: Any) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The tags GetInstance reports for ``tagged``, and QueryInstances for each instance."""
    got = await unary(channel, "GetInstance", ms.GetInstanceResponse)(
        ms.GetInstanceRequest(instanceId="tagged"), timeout=5)
    found = await unary(channel, "QueryInstances", ms.QueryInstancesResponse)(
        ms.QueryInstancesRequest(), timeout=5)
    return (dict(got.orchestrationState.tags),
            {s.instanceId: dict(s.tags) for s in found.orchestrationState})


async def test_completion_tags_are_merged_into_the_instance_tags(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    merged = {"owner": "team-a", "stage": "done", "result": "ok"}
    app = daemon(db)
    async with running(app), channel_to(app, ms) as channel:
        start = unary(channel, "StartInstance", ms.CreateInstanceResponse)
        await start(ms.CreateInstanceRequest(
            instanceId="tagged", name="flow", tags={"owner": "team-a", "stage": "start"}),
            timeout=5)
        worker = Worker(channel, ms)
        item = await worker.next("orchestratorRequest")
        done = ms.OrchestratorAction(id=0)
        done.completeOrchestration.orchestrationStatus = ms.ORCHESTRATION_STATUS_COMPLETED
        done.completeOrchestration.tags.update({"stage": "done", "result": "ok"})
        await worker.accepted(item, actions=[done])
        got, queried = await _tags(channel)
        assert got == merged  # the completion's value wins for a key both have
        assert queried == {"tagged": merged}
        worker.stream.cancel()

    app = daemon(db)  # kept with the instance's state, so a restart still reports them
    async with running(app), channel_to(app, ms) as channel:
        assert await _tags(channel) == (merged, {"tagged": merged})
        # A new instance under the id starts with its own tags only.
        replace = ms.OrchestrationIdReusePolicy(
            replaceableStatus=[ms.ORCHESTRATION_STATUS_COMPLETED])
        await unary(channel, "StartInstance", ms.CreateInstanceResponse)(
            ms.CreateInstanceRequest(instanceId="tagged", name="flow", tags={"new": "1"},
                                     orchestrationIdReusePolicy=replace), timeout=5)
        assert await _tags(channel) == ({"new": "1"}, {"tagged": {"new": "1"}})
