"""Timer reminders end with their generation.

The Dapr SDKs turn an external-event wait without a timeout into a timer at 9999-12-31
that never fires; if an instance's unfired timers outlived it, every completed instance
that ever waited for an event would leave a reminder row behind forever (found by the
chaos harness). Completion, termination and continue-as-new delete them in the same
commit; a reminder row is the only thing a timer has, so the store is checked directly.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from google.protobuf import timestamp_pb2

from tests.server.test_dapr_rpcs import Client, daemon
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.app import App

__all__ = ["daemon"]

FAR = timestamp_pb2.Timestamp(seconds=253402300799)  # 9999-12-31T23:59:59Z


def timer_reminders(db: Path, instance_id: str) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [name for (name,) in conn.execute(
            "SELECT r.name FROM reminders r JOIN actors a ON a.id = r.actor"
            " WHERE a.actor_id = ? AND r.name LIKE 'timer-%'", (instance_id,))]
    finally:
        conn.close()


async def answer(client: Client, stream: object, *actions: pb.OrchestratorAction) -> None:
    item = await asyncio.wait_for(stream.read(), 10)  # type: ignore[attr-defined]
    await client.call("CompleteOrchestratorTask", pb.OrchestratorResponse(
        instanceId=item.orchestratorRequest.instanceId, actions=list(actions),
        completionToken=item.completionToken), pb.CompleteTaskResponse)


def far_timer(id: int) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    action.createTimer.fireAt.CopyFrom(FAR)
    return action


def finish(id: int, status: int, result: str = "1") -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    action.completeOrchestration.orchestrationStatus = status  # type: ignore[assignment]
    action.completeOrchestration.result.value = result
    return action


async def wait_status(client: Client, instance_id: str, status: int) -> None:
    for _ in range(200):
        if (await client.get(instance_id)).orchestrationState.orchestrationStatus == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{instance_id} never reached {status}")


async def test_completion_and_termination_delete_unfired_timers(
    daemon: tuple[App, Client], tmp_path: Path
) -> None:
    _, client = daemon
    db = tmp_path / "wf.db"
    stream = client.work_items(pb.GetWorkItemsRequest())
    await client.start("done")
    await answer(client, stream, far_timer(0))
    assert await asyncio.to_thread(timer_reminders, db, "done") == ["timer-1-0"]
    await client.call("RaiseEvent", pb.RaiseEventRequest(instanceId="done", name="go"),
                      pb.RaiseEventResponse)
    await answer(client, stream, finish(1, pb.ORCHESTRATION_STATUS_COMPLETED))
    await wait_status(client, "done", pb.ORCHESTRATION_STATUS_COMPLETED)
    assert await asyncio.to_thread(timer_reminders, db, "done") == []

    await client.start("ended")
    await answer(client, stream, far_timer(0))
    await client.call("TerminateInstance", pb.TerminateRequest(instanceId="ended"),
                      pb.TerminateResponse)
    await answer(client, stream)  # the SDK answers a terminate with nothing; it still wins
    await wait_status(client, "ended", pb.ORCHESTRATION_STATUS_TERMINATED)
    assert await asyncio.to_thread(timer_reminders, db, "ended") == []
    stream.cancel()


async def test_continue_as_new_deletes_the_old_generations_timers(
    daemon: tuple[App, Client], tmp_path: Path
) -> None:
    _, client = daemon
    db = tmp_path / "wf.db"
    stream = client.work_items(pb.GetWorkItemsRequest())
    await client.start("again")
    await answer(client, stream, far_timer(0))
    await client.call("RaiseEvent", pb.RaiseEventRequest(instanceId="again", name="go"),
                      pb.RaiseEventResponse)
    await answer(client, stream, finish(1, pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW))
    await answer(client, stream, far_timer(0))  # generation 2 waits again
    for _ in range(100):
        names = await asyncio.to_thread(timer_reminders, db, "again")
        if names == ["timer-2-0"]:
            break
        await asyncio.sleep(0.05)
    assert names == ["timer-2-0"]
    stream.cancel()
