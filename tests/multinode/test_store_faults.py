"""The PostgreSQL store while its server is down: commits fail whole with
StoreUnavailable, the fault shows (readiness reads it), and clears by itself once the
server is back, even with nothing to commit."""

from __future__ import annotations

import asyncio

import pytest

from tests.postgres_cluster import server_bin, start_cluster
from tests.waiting import eventually
from wfsidecar.errors import StoreUnavailable
from wfsidecar.store.base import Changes
from wfsidecar.store.postgres import PostgresStore
from wfsidecar.types import ActorRef

A = ActorRef("workflow", "a")


@pytest.mark.skipif(server_bin() is None, reason="no PostgreSQL server (.ci/run installs it)")
async def test_a_server_restart_fails_commits_then_clears_the_fault() -> None:
    cluster = await asyncio.to_thread(start_cluster)  # its own: this test stops it
    try:
        store = await PostgresStore.open(cluster.dsn())
        try:
            await asyncio.to_thread(cluster._run, str(cluster.bindir / "pg_ctl"), "-D",
                                    str(cluster.datadir), "-m", "fast", "-w", "stop")
            changes = Changes()
            changes.put(A, "k", b"v")
            with pytest.raises(StoreUnavailable):
                await store.commit(changes)
            assert store.write_fault is not None
            recovered: list[bool] = []
            store.add_recovery_listener(lambda: recovered.append(True))
            await asyncio.to_thread(cluster.start)

            async def fault() -> str | None:
                return store.write_fault

            await eventually(fault, lambda f: f is None)  # the idle probe cleared it
            assert recovered == [True]
            await store.commit(changes)
            assert await store.load_actor(A) == {"k": b"v"}
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(cluster.stop)
