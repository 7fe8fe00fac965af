"""PostgreSQL-only store behaviour: shared migration, the stored partition count, the
savepoint pass that isolates a caller PostgreSQL refuses."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from wfsidecar.errors import StoreError
from wfsidecar.store.base import Changes, Reminder
from wfsidecar.store.postgres import PostgresStore
from wfsidecar.types import ActorRef


async def test_daemons_starting_together_migrate_once(pg_dsn: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(pg_dsn, partitions=8) for _ in range(3)))
    try:
        conn = await asyncpg.connect(pg_dsn)
        try:
            versions = await conn.fetch("SELECT version FROM schema_version")
            leases = await conn.fetchval("SELECT count(*) FROM leases")
        finally:
            await conn.close()
        assert [r[0] for r in versions] == [1]
        assert leases == 8
    finally:
        for store in stores:
            await store.close()


async def test_the_first_daemon_fixes_the_partition_count(pg_dsn: str) -> None:
    first = await PostgresStore.open(pg_dsn, partitions=16)
    second = await PostgresStore.open(pg_dsn, partitions=64)
    try:
        assert (first.partitions, second.partitions) == (16, 16)
    finally:
        await first.close()
        await second.close()


async def test_a_caller_postgres_refuses_does_not_fail_its_batch(pg_dsn: str) -> None:
    # Valid Python text, but PostgreSQL text cannot hold NUL: refused by the server, not
    # by the store's own checks, so only the savepoint pass can single this caller out.
    store = await PostgresStore.open(pg_dsn)
    try:
        async def turn(n: int) -> None:
            changes = Changes()
            ref = ActorRef("workflow", f"w{n}")
            changes.put(ref, "bad\x00key" if n == 3 else "k", b"v")
            changes.set_reminder(Reminder(ref, "r", n))
            await store.commit(changes)

        results: list[Any] = await asyncio.gather(*(turn(n) for n in range(10)),
                                                  return_exceptions=True)
        assert [n for n, r in enumerate(results) if r is not None] == [3]
        assert isinstance(results[3], StoreError)
        assert await store.load_actor(ActorRef("workflow", "w3")) == {}
        assert await store.get_reminder(ActorRef("workflow", "w3"), "r") is None
        assert await store.load_actor(ActorRef("workflow", "w4")) == {"k": b"v"}
        assert await store.size_bytes() > 0
    finally:
        await store.close()
