"""The telemetry seam: one observer hears every kind of event from the real daemon.

A recording observer is handed to an in-process daemon; a raw Dapr-dialect worker runs one
workflow with one activity, and a client reads it over gRPC and HTTP. The observer must
have heard each RPC with its status, the actor turns and store commits, the dispatch and
completion of both work items, and each committed workflow turn with exactly the history
events that turn added.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.server._raw_worker import daemon, finish, flow_started, schedule, unary
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.app import App
from wfsidecar.engine import RuntimeStatus
from wfsidecar.telemetry.observer import RpcCall, WorkflowCommit, WorkItemEvent


class Recorder:
    def __init__(self) -> None:
        self.rpcs: list[RpcCall] = []
        self.turns: list[tuple[str, bool]] = []
        self.commits: list[tuple[int, int, bool]] = []
        self.dispatched: list[WorkItemEvent] = []
        self.completed: list[WorkItemEvent] = []
        self.workflows: list[WorkflowCommit] = []

    def rpc_finished(self, call: RpcCall) -> None:
        self.rpcs.append(call)

    def turn_finished(self, actor_type: str, seconds: float, ok: bool) -> None:
        self.turns.append((actor_type, ok))

    def commit_finished(self, seconds: float, callers: int, ops: int, ok: bool) -> None:
        self.commits.append((callers, ops, ok))

    def work_dispatched(self, event: WorkItemEvent) -> None:
        self.dispatched.append(event)

    def work_completed(self, event: WorkItemEvent) -> None:
        self.completed.append(event)

    def workflow_committed(self, commit: WorkflowCommit) -> None:
        self.workflows.append(commit)


async def test_every_point_of_the_seam_reports(tmp_path: Path) -> None:
    seen = Recorder()
    base = daemon(tmp_path / "wf.db")
    app = App(base.config, configure_logging=False, observers=[seen])
    async with flow_started(app) as (channel, worker):
        turn = await worker.next("orchestratorRequest")
        await worker.accepted(turn, actions=[schedule(pb, "charge")])
        activity = await worker.next("activityRequest")
        await worker.accepted(activity)
        turn = await worker.next("orchestratorRequest")
        await worker.accepted(turn, actions=[finish(pb, '"done"')])
        await unary(channel, "GetInstance", pb.GetInstanceResponse)(
            pb.GetInstanceRequest(instanceId="wf"), timeout=5)
        assert app.ports is not None
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{app.ports.http}/v1.0/workflows/dapr/nope"
            async with http.get(url) as response:
                assert response.status == 404

    grpc_calls = {(c.method, c.code) for c in seen.rpcs if c.edge == "grpc"}
    assert {("StartInstance", "OK"), ("CompleteActivityTask", "OK"),
            ("GetInstance", "OK")} <= grpc_calls
    [http] = [c for c in seen.rpcs if c.edge == "http"]
    assert (http.code, http.instance_id) == ("404", "nope")
    assert ("dapr.internal.wfengine.workflow", True) in seen.turns
    assert seen.commits and all(ok for _, _, ok in seen.commits)
    assert [(e.kind, e.name) for e in seen.dispatched] == [
        ("orchestrator", "flow"), ("activity", "charge"), ("orchestrator", "flow")]
    assert [e.kind for e in seen.completed] == ["orchestrator", "activity", "orchestrator"]
    assert all(e.seconds > 0 for e in seen.completed)
    statuses = [(c.previous_status, c.status) for c in seen.workflows]
    assert statuses[0] == (None, RuntimeStatus.PENDING)
    assert statuses[-1][1] == RuntimeStatus.COMPLETED
    added = [e.WhichOneof("eventType") for c in seen.workflows for e in c.new_events]
    # Every event of the history, each reported once, by the turn that committed it.
    assert added.count("executionStarted") == 1 and added.count("taskScheduled") == 1
    assert added.count("taskCompleted") == 1 and added.count("executionCompleted") == 1
    last = seen.workflows[-1]
    assert last.started is not None and last.started.executionStarted.name == "flow"
