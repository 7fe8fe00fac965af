"""Compact storage (issue #13 item 6): a finished instance's state in one packed row.

The keys and values a store hands back never change; only the SQLite file's layout does.
Also: the migration of a schema-2 file (packed table, retention index, incremental vacuum)
and that purging plus ``reclaim_space`` gives the file's pages back.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

from tests.store.test_instance_index import row
from wfsidecar.store import _sqlite_packed as packed
from wfsidecar.store.base import Changes
from wfsidecar.store.sqlite import SqliteStore
from wfsidecar.types import ActorRef

WF = "dapr.internal.wfengine.workflow"


def seq3_state(i: int) -> dict[str, bytes]:
    """Keys and values shaped like a finished seq3 workflow's (13 keys, ~980 bytes)."""
    state = {f"history-{n:06d}": b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x12\x0c\x08"
             + bytes([n, i % 256]) * 30 for n in range(12)}
    state["metadata"] = b'{"inboxLength":0,"historyLength":12,"generation":1}'
    return state


async def finish(store: SqliteStore, instance_id: str, state: dict[str, bytes]) -> None:
    ref = ActorRef(WF, instance_id)
    changes = Changes()
    for key, value in state.items():
        changes.put(ref, key, value)
    changes.put_instance(ref, row(instance_id, status=1, completed_ms=2000))
    await store.commit(changes)


def rows_of(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


async def file_size(db: Path) -> int:
    return (await asyncio.to_thread(db.stat)).st_size


def test_encode_decode_round_trip() -> None:
    rows = [("history-000000", b"\x00" * 300), ("customStatus", b""), ("k\u00e9y", b"v" * 200)]
    assert packed.decode(packed.encode(rows)) == rows
    assert packed.decode(packed.encode([])) == []


async def test_a_finished_instance_is_packed_and_reads_the_same(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    running = ActorRef(WF, "running")
    try:
        await finish(store, "done", seq3_state(1))
        changes = Changes()
        changes.put(running, "metadata", b"{}")
        changes.put_instance(running, row("running"))
        await store.commit(changes)
        assert await store.load_actor(ActorRef(WF, "done")) == seq3_state(1)
        assert rows_of(db_path, "packed_state") == 1
        assert rows_of(db_path, "actor_state") == 1  # only the running instance's
        assert sorted(await store.list_actor_ids(WF, after=None, limit=10)) == ["done",
                                                                                "running"]
        # A write to a packed actor unpacks it first: nothing is lost, the key changes.
        changes = Changes()
        changes.put(ActorRef(WF, "done"), "customStatus", b'"x"')
        changes.delete(ActorRef(WF, "done"), "history-000011")
        await store.commit(changes)
        expected = {**seq3_state(1), "customStatus": b'"x"'}
        del expected["history-000011"]
        assert await store.load_actor(ActorRef(WF, "done")) == expected
        assert rows_of(db_path, "packed_state") == 0
        # Finishing again packs again; deleting the actor leaves no row anywhere.
        await finish(store, "done", {"history-000000": b"new"})
        assert (await store.load_actor(ActorRef(WF, "done")))["history-000000"] == b"new"
        assert rows_of(db_path, "packed_state") == 1
        changes = Changes()
        changes.delete_actor(ActorRef(WF, "done"))
        await store.commit(changes)
        assert await store.load_actor(ActorRef(WF, "done")) == {}
        assert rows_of(db_path, "packed_state") == 0
        assert await store.list_actor_ids(WF, after=None, limit=10) == ["running"]
    finally:
        await store.close()


async def test_purge_and_reclaim_give_the_file_back(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    try:
        for i in range(300):
            await finish(store, f"wf-{i:04d}", seq3_state(i))
        await store.execute_on_writer("PRAGMA wal_checkpoint(TRUNCATE)")
        full = await file_size(db_path)
        # Generous, deterministic bound: 300 packed instances with their index rows.
        assert full / 300 < 1024
        changes = Changes()
        for i in range(300):
            changes.delete_actor(ActorRef(WF, f"wf-{i:04d}"))
        await store.commit(changes)
        assert await store.free_bytes() > full // 2
        assert await store.reclaim_space(100_000) > 0
        await store.execute_on_writer("PRAGMA wal_checkpoint(TRUNCATE)")
        assert await store.free_bytes() < full // 10
        assert await file_size(db_path) < full // 2
    finally:
        await store.close()


async def test_a_schema_2_file_is_migrated_and_compacted(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await finish(store, "old", seq3_state(7))
    await store.close()
    # Rewrite it as schema 2 left it: loose rows, no packed table, no incremental vacuum.
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.executescript(
        "INSERT INTO actor_state SELECT 1, 'x', x'00' WHERE 0;"
        "DROP INDEX instances_status_completed; DELETE FROM schema_version WHERE version = 3;"
        "DELETE FROM store_meta;")
    blob = conn.execute("SELECT actor, state FROM packed_state").fetchone()
    conn.executemany("INSERT INTO actor_state VALUES (?, ?, ?)",
                     [(blob[0], k, v) for k, v in packed.decode(blob[1])])
    conn.executescript("DROP TABLE packed_state; PRAGMA auto_vacuum = NONE; VACUUM;")
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    conn.close()

    store = await SqliteStore.open(db_path)
    try:
        conn = sqlite3.connect(db_path)
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 3
        conn.close()
        assert rows_of(db_path, "actor_state") == 13  # still loose: packed by compact()
        assert await store.compact(limit=10) == 1
        assert await store.compact(limit=10) == 0  # the flag is gone: nothing to scan
        assert rows_of(db_path, "actor_state") == 0
        assert await store.load_actor(ActorRef(WF, "old")) == seq3_state(7)
        largest = await store.largest_instances(5)
        assert [r.instance_id for r in largest] == ["old"]
        assert replace(largest[0], instance_id="x") == row("x", status=1, completed_ms=2000)
    finally:
        await store.close()
