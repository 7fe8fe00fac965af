"""Two daemons on one PostgreSQL database, in process, with raw workers: client calls on a
daemon that does not own the instance, the partitions' split and hand-over."""

from __future__ import annotations

import asyncio

from tests.multinode._nodes import nodes, start, wait_completed
from tests.waiting import eventually
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.app import App


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
