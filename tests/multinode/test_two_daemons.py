"""Two daemons on one PostgreSQL database, in process, with raw workers: client calls on a
daemon that does not own the instance, the partitions' split and hand-over."""

from __future__ import annotations

import asyncio
import time

import grpc

from tests.multinode._nodes import AutoWorker, nodes, start, wait_completed
from tests.server._raw_worker import unary
from tests.stored_state import stored_rows
from tests.waiting import eventually
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.app import App
from wfsidecar.store.partitions import partition_of
from wfsidecar.workflow.workflow_actor import workflow_ref


async def test_a_daemon_without_workers_holds_nothing_and_still_serves_clients(
        pg_database: str) -> None:
    async with nodes(pg_database, 2, workers=1) as [(a, _), (b, _)]:
        assert a.cluster is not None and b.cluster is not None
        await eventually(lambda: _owned(a), lambda n: n == 16)
        assert len(b.cluster.leases.tokens()) == 0
        # Started, awaited and read on b; run by a (the only daemon with a worker).
        await start(b, "wf-1")
        done = await wait_completed(b, "wf-1")
        assert done.orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
        assert done.orchestrationState.output.value == '"done:wf-1"'


async def test_a_wait_on_one_daemon_returns_when_the_owner_completes_it(
        pg_database: str) -> None:
    async with nodes(pg_database, 2, workers=1) as [(a, wa), (b, _)]:
        assert wa is not None
        await eventually(lambda: _owned(a), lambda n: n == 16)
        wa.gate.clear()  # a's worker holds the activity: the instance cannot finish yet
        await start(b, "held")
        waiting = asyncio.create_task(wait_completed(b, "held"))
        await eventually(lambda: _handled(wa), lambda ids: "held" in ids)
        assert not waiting.done()
        wa.gate.set()
        done = await asyncio.wait_for(waiting, 10)
        assert done.orchestrationState.output.value == '"done:held"'


async def _handled(worker: AutoWorker) -> list[str]:
    return worker.handled


async def test_work_is_split_and_every_instance_completes_on_either_daemon(
        pg_database: str) -> None:
    async with nodes(pg_database, 2) as [(a, wa), (b, wb)]:
        assert a.cluster is not None and b.cluster is not None and wa and wb
        await eventually(lambda: _both(a, b), lambda n: n == (8, 8))
        ids = [f"wf-{n}" for n in range(40)]
        await asyncio.gather(*(start(a if n % 2 else b, i) for n, i in enumerate(ids)))
        finals = await asyncio.gather(*(wait_completed(b if n % 2 else a, i)
                                        for n, i in enumerate(ids)))
        assert [f.orchestrationState.output.value for f in finals] == [
            f'"done:{i}"' for i in ids]
        assert wa.handled and wb.handled  # both daemons ran some
        assert sorted(wa.handled + wb.handled) == sorted(ids)


async def _owned(app: App) -> int:
    assert app.cluster is not None
    return len(app.cluster.leases.tokens())


async def _both(a: App, b: App) -> tuple[int, int]:
    return await _owned(a), await _owned(b)


async def test_a_stopped_daemons_partitions_move_and_its_instances_go_on(
        pg_database: str) -> None:
    async with nodes(pg_database, 1) as [(a, _)]:
        assert a.cluster is not None
        async with nodes(pg_database, 1) as [(b, _)]:
            assert b.cluster is not None
            await eventually(lambda: _both(a, b), lambda n: n == (8, 8))
            before = len(a.cluster.leases.takeovers)
        # b stopped: it released its leases, so a takes them as free, not as take-overs.
        await eventually(lambda: _owned(a), lambda n: n == 16)
        assert len(a.cluster.leases.takeovers) == before
        ids = [f"after-{n}" for n in range(10)]
        await asyncio.gather(*(start(a, i) for i in ids))
        for instance_id in ids:
            done = await wait_completed(a, instance_id)
            assert done.orchestrationState.output.value == f'"done:{instance_id}"'


async def test_the_seed_key_layout_is_kept(pg_database: str) -> None:
    async with nodes(pg_database, 1) as [(a, _)]:
        await eventually(lambda: _owned(a), lambda n: n == 16)
        await start(a, "layout")
        await wait_completed(a, "layout")
    rows = await asyncio.to_thread(stored_rows, pg_database)
    keys = [key for type_, actor_id, key, _ in rows if actor_id == "layout"]
    # engine.md §2.1: history-NNNNNN per event and metadata (no custom status was set,
    # and a finished instance's inbox is empty)
    assert keys == [*(f"history-{n:06d}" for n in range(len(keys) - 1)), "metadata"]
    assert len(keys) > 5
    assert not [r for r in rows if r[1].startswith("layout#")]  # activities cleaned up


async def test_a_scheduled_start_sent_to_the_owner_is_pending_at_once(
        pg_database: str) -> None:
    async with nodes(pg_database, 2, workers=1) as [(a, _), (b, _)]:
        await eventually(lambda: _owned(a), lambda n: n == 16)
        assert b.ports is not None
        request = pb.CreateInstanceRequest(instanceId="later", name="flow")
        request.scheduledStartTimestamp.FromMilliseconds(int(time.time() * 1000) + 60_000)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{b.ports.dapr_grpc}") as channel:
            await unary(channel, "StartInstance", pb.CreateInstanceResponse)(request, timeout=10)
            found = await unary(channel, "GetInstance", pb.GetInstanceResponse)(
                pb.GetInstanceRequest(instanceId="later"), timeout=10)
        assert found.exists
        assert found.orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING


async def test_work_out_when_a_partition_moves_is_not_applied_after_it_comes_back(
        pg_database: str) -> None:
    # A daemon paused past its lease and given the partition back finds its worker's
    # answer to the old run: it must be refused, not applied beside the new run's.
    async with nodes(pg_database, 1) as [(a, wa)]:
        assert wa is not None and a.cluster is not None
        await eventually(lambda: _owned(a), lambda n: n == 16)
        wa.gate.clear()
        await start(a, "moved")
        await eventually(lambda: _handled(wa), lambda ids: ids.count("moved") == 1)
        part = partition_of(workflow_ref("moved"), 16)
        a.cluster.leases.lost({part})  # as if a commit had found the lease gone
        a.cluster.leases.poke()  # the next round holds it again (nobody took it)
        await eventually(lambda: _handled(wa), lambda ids: ids.count("moved") == 2)
        wa.gate.set()  # both runs answer now
        done = await wait_completed(a, "moved")
        assert done.orchestrationState.output.value == '"done:moved"'
    rows = await asyncio.to_thread(stored_rows, pg_database)
    completed = [pb.HistoryEvent.FromString(v) for t, i, k, v in rows
                 if i == "moved" and k.startswith("history-")]
    assert sum(e.HasField("taskCompleted") for e in completed) == 1
