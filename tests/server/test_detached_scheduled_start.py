"""A detached workflow started from a workflow with a scheduled start (issue #10 item 4):
Dapr's ``createDetachedWorkflow`` action (OrchestratorAction field 11, Dapr 1.18+) with
``scheduledStartTimestamp`` creates the instance at once, PENDING, and holds its first turn
until that time, across a daemon restart too.

The ``dapr`` 1.19 wheel carries the action in its protos but its workflow API has no call
that emits it, so a raw Dapr-dialect worker answers the parent's turn; time is a FakeClock.
"""

from __future__ import annotations

from pathlib import Path

from tests.fakes import FakeClock
from tests.hazards._support_21_40 import Stream, answer, complete, daemon, eventually, state
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb

HOUR_MS = 3_600_000


def detached(id: int, instance_id: str, start_at_ms: int) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    created = action.createDetachedWorkflow
    created.instanceId, created.name = instance_id, "later_flow"
    created.input.value = '"for later"'
    created.scheduledStartTimestamp.FromMilliseconds(start_at_ms)
    return action


async def test_detached_workflow_waits_for_its_scheduled_start(tmp_path: Path) -> None:
    db, clock = tmp_path / "wf.db", FakeClock()
    start_at = clock.now_ms() + HOUR_MS
    async with daemon(db, clock) as (_, client):
        await client.start("parent")
        worker = Stream(client)
        await answer(client, await worker.next(), detached(0, "later", start_at), complete(1))
        got = await eventually(lambda: client.get("later"), lambda r: r.exists)
        st = got.orchestrationState
        assert st.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING
        assert st.scheduledStartTimestamp.ToMilliseconds() == start_at
        assert not st.HasField("parentInstanceId")
        clock.advance(HOUR_MS / 1000 - 60)
        assert await worker.nothing_for(0.5)  # a minute early: not dispatched
        assert (await state(client, "later")).orchestrationStatus == \
            pb.ORCHESTRATION_STATUS_PENDING

    clock.advance(30)  # a restart half a minute before the start time keeps it
    async with daemon(db, clock) as (_, client):
        worker = Stream(client)
        assert await worker.nothing_for(0.5)
        worker = Stream(client)
        clock.advance(30)
        item = await worker.next()
        request = item.orchestratorRequest
        assert request.instanceId == "later"
        [turn_start] = [e for e in request.newEvents if e.HasField("orchestratorStarted")]
        assert turn_start.timestamp.ToMilliseconds() >= start_at
        [started] = [e.executionStarted for e in request.newEvents
                     if e.HasField("executionStarted")]
        assert (started.name, started.input.value) == ("later_flow", '"for later"')
        await answer(client, item, complete(0, result='"ran"'))
        done = await eventually(lambda: state(client, "later"), lambda s: s.orchestrationStatus
                                == pb.ORCHESTRATION_STATUS_COMPLETED)
        assert done.output.value == '"ran"'
        worker.close()


async def test_a_terminate_does_not_wait_for_the_scheduled_start(tmp_path: Path) -> None:
    clock = FakeClock()
    async with daemon(tmp_path / "wf.db", clock) as (_, client):
        request = pb.CreateInstanceRequest(instanceId="later", name="later_flow")
        request.scheduledStartTimestamp.FromMilliseconds(clock.now_ms() + HOUR_MS)
        await client.call("StartInstance", request, pb.CreateInstanceResponse)
        await client.call("TerminateInstance", pb.TerminateRequest(instanceId="later"),
                          pb.TerminateResponse)
        worker = Stream(client)
        item = await worker.next()  # at once, not in an hour
        kinds = [e.WhichOneof("eventType") for e in item.orchestratorRequest.newEvents]
        assert kinds == ["orchestratorStarted", "executionStarted", "executionTerminated"]
        await answer(client, item, complete(0, pb.ORCHESTRATION_STATUS_TERMINATED))
        assert (await state(client, "later")).orchestrationStatus == \
            pb.ORCHESTRATION_STATUS_TERMINATED
