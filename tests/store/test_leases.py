"""Partition leases and fencing on the PostgreSQL store (store/leases.py, _pg_batch.py):
balancing between daemons, take-over of expired leases, refused stale commits, messages
to partitions of other daemons, reminders read for owned partitions only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from wfsidecar.errors import StoreConflictError
from wfsidecar.store.base import Changes, Reminder
from wfsidecar.store.leases import PartitionLeases
from wfsidecar.store.partitions import partition_of
from wfsidecar.store.postgres import PostgresStore
from wfsidecar.types import ActorRef

PARTITIONS = 8


def ref_in(partition: int) -> ActorRef:
    """A workflow actor that hashes into ``partition``."""
    n = 0
    while partition_of(ActorRef("w", f"i{n}"), PARTITIONS) != partition:
        n += 1
    return ActorRef("w", f"i{n}")


@pytest.fixture
async def pair(pg_dsn: str) -> AsyncIterator[tuple[PartitionLeases, PartitionLeases]]:
    stores = [await PostgresStore.open(pg_dsn, partitions=PARTITIONS) for _ in range(2)]
    leases = []
    for name, store in zip("ab", stores, strict=True):
        lease = PartitionLeases(store, owner=name, address=name, ttl=30)
        store.attach_leases(lease)
        leases.append(lease)
    try:
        yield leases[0], leases[1]
    finally:
        for lease in leases:
            await lease.close()
        for store in stores:
            await store.close()


async def expire(dsn: str, owner: str) -> None:
    """As if ``owner`` had been paused past its lease (its rows expired)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE leases SET expires_ms = 0 WHERE owner = $1", owner)
    finally:
        await conn.close()


async def test_a_joining_daemon_gets_its_share_in_two_rounds(
        pair: tuple[PartitionLeases, PartitionLeases]) -> None:
    a, b = pair
    changes: list[tuple[set[int], set[int]]] = []
    a.add_listener(lambda gained, lost: changes.append((gained, lost)))
    await a.heartbeat()
    assert sorted(a.tokens()) == list(range(PARTITIONS))
    await b.heartbeat()  # nothing free yet
    assert b.tokens() == {}
    await a.heartbeat()  # two live daemons: a gives back half
    await b.heartbeat()
    assert len(a.tokens()) == len(b.tokens()) == PARTITIONS // 2
    assert set(a.tokens()).isdisjoint(b.tokens())
    assert changes[0] == (set(range(PARTITIONS)), set())
    assert changes[1][1] == set(b.tokens())
    assert b.takeovers == []  # released, not taken over


async def test_a_daemon_past_its_lease_can_never_write_again(
        pair: tuple[PartitionLeases, PartitionLeases], pg_dsn: str) -> None:
    a, b = pair
    await a.heartbeat()
    ref = ref_in(3)
    mine = Changes()
    mine.put(ref, "k", b"a-1")
    await a._store.commit(mine)  # noqa: SLF001 - the store the leases fence
    old_token = a.tokens()[3]

    await expire(pg_dsn, "a")
    await b.heartbeat()  # a looks live, so b takes its share of the expired rows
    assert 3 in b.tokens() or len(b.tokens()) == PARTITIONS // 2
    taken = set(b.tokens())
    assert {t.previous for t in b.takeovers} == {"a"}
    late = ref_in(min(taken))
    stale = Changes()
    stale.put(late, "k", b"late write")
    with pytest.raises(StoreConflictError):
        await a._store.commit(stale)  # noqa: SLF001
    assert a._store.stats.refused_stale == 1  # noqa: SLF001
    assert min(taken) not in a.tokens()  # dropped on the refusal
    assert b.tokens()[min(taken)] > (old_token if min(taken) == 3 else 0)
    assert await b._store.load_actor(late) == {}  # noqa: SLF001


async def test_messages_cross_partitions_and_state_writes_do_not(
        pair: tuple[PartitionLeases, PartitionLeases]) -> None:
    a, b = pair
    await a.heartbeat()
    await b.heartbeat()
    await a.heartbeat()
    await b.heartbeat()
    theirs = ref_in(min(b.tokens()))
    message = Changes()
    message.set_reminder(Reminder(theirs, "evt-1", 5))
    await a._store.commit(message)  # noqa: SLF001 - any daemon may send
    write = Changes()
    write.put(theirs, "k", b"v")
    with pytest.raises(StoreConflictError):
        await a._store.commit(write)  # noqa: SLF001
    assert await a._store.reminders_due_before(100, 10) == []  # noqa: SLF001
    assert [r.name for r in await b._store.reminders_due_before(100, 10)] == [  # noqa: SLF001
        "evt-1"]
