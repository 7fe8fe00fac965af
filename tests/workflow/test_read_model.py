"""The read model through real turns: rows follow every change, reads never load actors.

A real daemon (in-process, real SQLite file, real gRPC) with a raw Dapr-dialect worker:
each row must agree with what ``GetInstance`` (the actor's own projection) says, at every
step of a workflow's life — pending, running, suspended, completed, purged — and a file
written before the index existed gets its rows at the next start.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from google.protobuf import wrappers_pb2

from tests.server._raw_worker import daemon, finish, flow_started, schedule, unary
from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.app import App
from wfsidecar.engine import RuntimeStatus
from wfsidecar.store.instances import InstanceFilter, InstanceQuery, InstanceRow
from wfsidecar.workflow.requests import PurgeRequest


async def row_of(app: App, instance_id: str) -> InstanceRow | None:
    assert app.service is not None
    page = await app.service.list_instances(InstanceQuery(
        InstanceFilter(id_prefix=instance_id), sort="id", descending=False))
    return next((r for r in page.rows if r.instance_id == instance_id), None)


async def agrees(app: App, instance_id: str) -> InstanceRow:
    """The row, checked field by field against the actor's own snapshot."""
    assert app.service is not None
    snapshot = await app.service.get(instance_id)
    row = await row_of(app, instance_id)
    assert snapshot is not None and row is not None
    view = snapshot.view
    assert (row.name, row.status, row.created_ms, row.updated_ms, row.completed_ms,
            row.parent_id, row.stall_reason) == (
        view.name, int(view.status), view.created_ms, view.last_updated_ms,
        view.completed_ms, view.parent_instance_id, view.stall_reason)
    assert row.history_len == len(snapshot.history)
    assert row.custom_status == snapshot.custom_status
    assert row.stored_bytes >= sum(e.ByteSize() for e in snapshot.history)
    return row


async def test_rows_follow_a_workflow_through_its_life(tmp_path: Path) -> None:
    app = daemon(tmp_path / "wf.db")
    async with flow_started(app) as (channel, worker):
        assert (await agrees(app, "wf")).status == RuntimeStatus.PENDING
        turn = await worker.next("orchestratorRequest")
        await worker.accepted(turn, actions=[schedule(pb)],
                              customStatus=wrappers_pb2.StringValue(value='"step 1"'))
        row = await agrees(app, "wf")
        assert (row.status, row.custom_status) == (RuntimeStatus.RUNNING, '"step 1"')
        await unary(channel, "SuspendInstance", pb.SuspendResponse)(
            pb.SuspendRequest(instanceId="wf"), timeout=5)
        activity = await worker.next("activityRequest")
        await worker.accepted(activity)
        turn = await worker.next("orchestratorRequest")
        await worker.accepted(turn)  # applies the suspend and the result
        assert (await agrees(app, "wf")).status == RuntimeStatus.SUSPENDED
        await unary(channel, "ResumeInstance", pb.ResumeResponse)(
            pb.ResumeRequest(instanceId="wf"), timeout=5)
        turn = await worker.next("orchestratorRequest")
        await worker.accepted(turn, actions=[finish(pb, '"done"')])
        row = await agrees(app, "wf")
        assert row.status == RuntimeStatus.COMPLETED and row.completed_ms is not None
        assert app.service is not None
        counted = await app.service.count_instances(
            InstanceFilter(statuses=frozenset({int(RuntimeStatus.COMPLETED)})))
        assert counted == 1
        assert await app.service.purge(PurgeRequest("wf")) == 1
        assert await row_of(app, "wf") is None
        assert await app.service.count_instances(InstanceFilter()) == 0


async def test_a_file_from_before_the_index_is_indexed_at_start(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    app = daemon(db)
    async with flow_started(app) as (_, worker):
        turn = await worker.next("orchestratorRequest")
        await worker.accepted(turn, actions=[finish(pb, '"done"')])
        before = await agrees(app, "wf")
    # As schema version 1 left it: no rows, and the flag migration 2 sets for such files.
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM instances")
    conn.execute("INSERT INTO store_meta VALUES ('instance_index', 'backfill')")
    conn.commit()
    conn.close()
    app = daemon(db)
    async with running(app):
        assert await agrees(app, "wf") == before
        assert app.store is not None
        assert not await app.store.instance_backfill_pending()
