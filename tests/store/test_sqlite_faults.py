"""Environmental SQLite failures (disk full, read-only, lock held) become StoreUnavailable
with a reason; the failed batch leaves nothing behind, the writer stays usable, and the
store's write fault clears by itself (its idle probe) once the cause is gone."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from wfsidecar.errors import StoreError, StoreUnavailable
from wfsidecar.store.base import Changes
from wfsidecar.store.sqlite import SqliteStore
from wfsidecar.types import ActorRef

BIG = b"x" * 40_000  # ten overflow pages: refused when the file may not grow

FAULTS = {
    "full": ("PRAGMA max_page_count = {pages}", "PRAGMA max_page_count = 1073741823",
             "database is full (disk or max_page_count)"),
    "readonly": ("PRAGMA query_only = ON", "PRAGMA query_only = OFF", "database is read-only"),
}


async def put(store: SqliteStore, ref: ActorRef, value: bytes) -> None:
    changes = Changes()
    changes.put(ref, "k", value)
    await store.commit(changes)


async def inject(store: SqliteStore, kind: str) -> str:
    pages = (await store.execute_on_writer("PRAGMA page_count"))[0][0]
    start, clear, _ = FAULTS[kind]
    await store.execute_on_writer(start.format(pages=pages))
    return clear


async def eventually_clear(store: SqliteStore) -> None:
    for _ in range(100):  # 5 s; the probe runs every second
        if store.write_fault is None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the write fault never cleared: {store.write_fault}")


@pytest.mark.parametrize("kind", sorted(FAULTS))
async def test_fault_fails_whole_batches_and_clears_with_no_writes(
        sqlite_store: SqliteStore, kind: str) -> None:
    store = sqlite_store
    await put(store, ActorRef("w", "before"), b"kept")
    clear = await inject(store, kind)
    results = await asyncio.gather(
        *(put(store, ActorRef("w", f"{n}"), BIG) for n in range(6)), return_exceptions=True)
    reason = FAULTS[kind][2]
    assert all(isinstance(r, StoreUnavailable) and reason in str(r) for r in results), results
    assert store.write_fault is not None and reason in store.write_fault
    assert store.stats.rejected == 0  # the batch failed as a whole, no savepoint retry
    assert store._writer_task is not None and not store._writer_task.done()
    assert await store.execute_on_writer("SELECT 1") == [(1,)]  # no transaction left open
    assert await store.load_actor(ActorRef("w", "before")) == {"k": b"kept"}
    for n in range(6):
        assert await store.load_actor(ActorRef("w", f"{n}")) == {}

    await asyncio.sleep(0.3)
    assert store.write_fault is not None  # the idle probe fails while the fault lasts
    await store.execute_on_writer(clear)
    await eventually_clear(store)  # nothing else writes: the probe clears it
    await put(store, ActorRef("w", "after"), BIG)
    assert await store.load_actor(ActorRef("w", "after")) == {"k": BIG}
    assert await store.execute_on_writer("PRAGMA integrity_check") == [("ok",)]
    tables = await store.execute_on_writer(
        "SELECT name FROM sqlite_master WHERE name LIKE '%probe%'")
    assert tables == []  # the probe leaves no table behind


async def test_a_commit_clears_the_fault(sqlite_store: SqliteStore) -> None:
    clear = await inject(sqlite_store, "readonly")
    with pytest.raises(StoreUnavailable):
        await put(sqlite_store, ActorRef("w", "a"), b"v")
    await sqlite_store.execute_on_writer(clear)
    await put(sqlite_store, ActorRef("w", "a"), b"v")
    assert sqlite_store.write_fault is None


async def test_busy_past_busy_timeout_is_unavailable_with_a_reason(db_path: Path) -> None:
    store = await SqliteStore.open(db_path, busy_timeout=0.05)
    blocker = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
    try:
        await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="database is busy"):
            await put(store, ActorRef("w", "a"), b"v")
        await asyncio.to_thread(blocker.execute, "ROLLBACK")
        await eventually_clear(store)
    finally:
        await asyncio.to_thread(blocker.close)
        await store.close()


async def test_a_callers_own_error_stays_a_store_error(sqlite_store: SqliteStore) -> None:
    await sqlite_store.execute_on_writer(
        "CREATE TRIGGER refuse BEFORE INSERT ON actor_state WHEN NEW.key = 'bad'"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END")
    changes = Changes()
    changes.put(ActorRef("w", "a"), "bad", b"v")
    with pytest.raises(StoreError) as info:
        await sqlite_store.commit(changes)
    assert not isinstance(info.value, StoreUnavailable)
    assert sqlite_store.write_fault is None


def _open_files_under(folder: Path) -> list[str]:
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


async def test_close_after_a_failed_commit_releases_the_files(db_path: Path) -> None:
    # The failure's traceback (kept by the caller's exception) must not keep a statement
    # alive, or close() leaves the connection a zombie holding the files open.
    store = await SqliteStore.open(db_path)
    clear = await inject(store, "readonly")
    with pytest.raises(StoreUnavailable) as info:
        await put(store, ActorRef("w", "a"), b"v")
    await store.execute_on_writer(clear)
    await store.close()
    assert info.value.__cause__ is not None  # still referenced here
    assert await asyncio.to_thread(_open_files_under, db_path.parent) == []
