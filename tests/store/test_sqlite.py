"""SQLite-only behaviour: PRAGMAs, ownership lock, schema versions, group commit."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from wfsidecar.errors import SchemaTooNewError, StoreError, StoreLockedError, StoreUnavailable
from wfsidecar.store.base import Changes, Reminder
from wfsidecar.store.sqlite import SqliteStore, on_thread
from wfsidecar.types import ActorRef

A = ActorRef("workflow", "a")
B = ActorRef("workflow", "b")


def _sql(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(sql, params).fetchall()
        db.commit()
        return rows


async def sql(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on a fresh connection, off the event loop (blockbuster-safe)."""
    return await asyncio.to_thread(_sql, path, sql, params)


async def pragma(store: SqliteStore, name: str) -> Any:
    return await on_thread(store._writer, lambda c: c.execute(f"PRAGMA {name}").fetchone()[0])


async def put(store: SqliteStore, ref: ActorRef, **values: bytes) -> None:
    changes = Changes()
    for key, value in values.items():
        changes.put(ref, key, value)
    await store.commit(changes)


@pytest.mark.parametrize(("mode", "level"), [("FULL", 2), ("normal", 1), ("OFF", 0)])
async def test_pragmas_in_effect(db_path: Path, mode: str, level: int) -> None:
    store = await SqliteStore.open(db_path, synchronous=mode, busy_timeout=1.5)
    try:
        assert await pragma(store, "journal_mode") == "wal"
        assert await pragma(store, "synchronous") == level
        assert await pragma(store, "foreign_keys") == 1
        assert await pragma(store, "busy_timeout") == 1500
        assert await on_thread(store._reader, lambda c: c.execute("PRAGMA query_only").fetchone())
    finally:
        await store.close()


async def test_default_is_synchronous_full(sqlite_store: SqliteStore) -> None:
    assert await pragma(sqlite_store, "synchronous") == 2


@pytest.mark.parametrize(
    "kwargs", [{"synchronous": "EXTRA"}, {"max_batch": 0}, {"busy_timeout": -1.0}]
)
async def test_bad_arguments_touch_nothing(db_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        await SqliteStore.open(db_path, **kwargs)
    assert not await asyncio.to_thread(db_path.parent.joinpath(db_path.name + ".lock").exists)


async def test_second_open_is_locked_until_the_first_closes(db_path: Path) -> None:
    first = await SqliteStore.open(db_path)
    await put(first, A, k=b"v")
    before = await asyncio.to_thread(db_path.read_bytes)
    with pytest.raises(StoreLockedError) as info:
        await SqliteStore.open(db_path)
    assert info.value.path == str(db_path)
    assert await asyncio.to_thread(db_path.read_bytes) == before
    await first.close()

    second = await SqliteStore.open(db_path)
    try:
        assert await second.load_actor(A) == {"k": b"v"}
    finally:
        await second.close()


async def test_lock_held_by_another_process(db_path: Path) -> None:
    holder = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1] + '.lock', os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(30)\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", holder, str(db_path), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"locked\n"
        with pytest.raises(StoreLockedError):
            await SqliteStore.open(db_path)
    finally:
        proc.kill()
        await proc.wait()
    store = await SqliteStore.open(db_path)  # the kernel dropped the dead holder's lock
    await store.close()


async def test_schema_too_new_leaves_the_file_alone(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await put(store, A, k=b"v")
    await store.close()
    assert await sql(db_path, "SELECT version FROM schema_version") == [(1,), (2,), (3,)]
    await sql(db_path, "INSERT INTO schema_version (version, applied_ms) VALUES (99, 0)")
    before = await asyncio.to_thread(db_path.read_bytes)

    for _ in range(2):  # the second try proves the failed open released the lock
        with pytest.raises(SchemaTooNewError) as info:
            await SqliteStore.open(db_path)
        assert (info.value.found, info.value.supported) == (99, 3)
    assert await asyncio.to_thread(db_path.read_bytes) == before


async def test_reopen_keeps_data_and_does_not_remigrate(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await put(store, A, k=b"v")
    await store.close()
    store = await SqliteStore.open(db_path)
    try:
        assert await store.load_actor(A) == {"k": b"v"}
    finally:
        await store.close()
    assert await sql(db_path, "SELECT version FROM schema_version") == [(1,), (2,), (3,)]


async def test_not_a_database_is_unavailable_and_unlocked(db_path: Path) -> None:
    await asyncio.to_thread(db_path.write_bytes, b"this is not a sqlite file" * 100)
    for _ in range(2):
        with pytest.raises(StoreUnavailable):
            await SqliteStore.open(db_path)


async def test_group_commit_coalesces_concurrent_callers(sqlite_store: SqliteStore) -> None:
    async def turn(n: int) -> None:
        await put(sqlite_store, ActorRef("workflow", f"w{n}"), a=b"1", b=b"2")

    await asyncio.gather(*(turn(n) for n in range(100)))
    stats = sqlite_store.stats
    assert stats.commits == 100
    assert stats.transactions <= 5, stats
    assert stats.largest_batch >= 20, stats


async def test_baseline_mode_commits_each_caller_alone(db_path: Path) -> None:
    store = await SqliteStore.open(db_path, group_commit=False)
    try:
        await asyncio.gather(*(put(store, ActorRef("w", f"{n}"), k=b"v") for n in range(30)))
        assert (store.stats.transactions, store.stats.commits) == (30, 30)
        assert store.stats.largest_batch == 1
    finally:
        await store.close()


async def test_max_batch_bounds_each_transaction(db_path: Path) -> None:
    store = await SqliteStore.open(db_path, max_batch=8)
    try:
        await asyncio.gather(*(put(store, ActorRef("w", f"{n}"), k=b"v") for n in range(40)))
        assert store.stats.largest_batch == 8
        assert store.stats.transactions >= 5
    finally:
        await store.close()


async def test_a_caller_failing_inside_sqlite_is_isolated(sqlite_store: SqliteStore) -> None:
    # The trigger makes SQLite itself reject one caller's row in the middle of the shared
    # transaction, after validation passed: only its savepoint may be rolled back.
    await sql(
        sqlite_store.path,
        "CREATE TRIGGER boom BEFORE INSERT ON actor_state WHEN NEW.key = 'boom'"
        " BEGIN SELECT RAISE(ABORT, 'boom rejected'); END",
    )

    async def turn(n: int) -> None:
        changes = Changes()
        ref = ActorRef("workflow", f"w{n}")
        changes.put(ref, "first", b"x")
        changes.set_reminder(Reminder(ref, "timer", n))
        changes.put(ref, "boom" if n == 7 else "second", b"y")
        await sqlite_store.commit(changes)

    results = await asyncio.gather(*(turn(n) for n in range(20)), return_exceptions=True)
    failed = results[7]
    assert isinstance(failed, StoreError) and not isinstance(failed, StoreUnavailable)
    assert isinstance(failed.__cause__, sqlite3.IntegrityError)
    assert [r for n, r in enumerate(results) if n != 7] == [None] * 19
    assert sqlite_store.stats.transactions == 1
    assert (sqlite_store.stats.commits, sqlite_store.stats.rejected) == (19, 1)
    assert await sqlite_store.load_actor(ActorRef("workflow", "w7")) == {}
    assert await sqlite_store.get_reminder(ActorRef("workflow", "w7"), "timer") is None
    assert await sqlite_store.load_actor(ActorRef("workflow", "w8")) == {
        "first": b"x",
        "second": b"y",
    }
    # The actor row created for w7 at the top of the batch did not outlive its caller.
    assert await sql(sqlite_store.path, "SELECT count(*) FROM actors") == [(19,)]
    # ...and no id of that rolled-back row was remembered (a stale id would now hit the
    # foreign key, or land on another actor's row).
    await put(sqlite_store, ActorRef("workflow", "w7"), again=b"1")
    assert await sqlite_store.load_actor(ActorRef("workflow", "w7")) == {"again": b"1"}


async def test_failed_transaction_fails_the_batch_and_the_writer_recovers(db_path: Path) -> None:
    store = await SqliteStore.open(db_path, busy_timeout=0.05)
    blocker = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
    try:
        await put(store, A, k=b"before")
        await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
        results = await asyncio.gather(
            *(put(store, ActorRef("w", f"{n}"), k=b"v") for n in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(r, StoreUnavailable) for r in results), results
        assert store.stats.failed_transactions >= 1
        assert await store.load_actor(A) == {"k": b"before"}  # reads go on under WAL
        await asyncio.to_thread(blocker.execute, "ROLLBACK")

        await put(store, A, k=b"after")
        assert await store.load_actor(A) == {"k": b"after"}
        assert await store.load_actor(ActorRef("w", "0")) == {}
    finally:
        await asyncio.to_thread(blocker.close)
        await store.close()


async def test_close_finishes_queued_commits(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    tasks = [asyncio.create_task(put(store, ActorRef("w", f"{n}"), k=b"v")) for n in range(50)]
    await asyncio.sleep(0)  # every task has queued its commit
    await store.close()
    await asyncio.gather(*tasks)
    with pytest.raises(StoreUnavailable):
        await put(store, A, k=b"late")
    assert await sql(db_path, "SELECT count(*) FROM actor_state") == [(50,)]


async def test_cancelled_callers_do_not_break_the_writer(sqlite_store: SqliteStore) -> None:
    async def turn(n: int) -> None:
        await put(sqlite_store, ActorRef("w", f"{n}"), a=b"1", b=b"2")

    tasks = [asyncio.create_task(turn(n)) for n in range(30)]
    await asyncio.sleep(0)
    for task in tasks[:10]:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results[:10])
    assert results[10:] == [None] * 20
    await turn(99)
    for n in [*range(30), 99]:
        assert await sqlite_store.load_actor(ActorRef("w", f"{n}")) in ({}, {"a": b"1", "b": b"2"})
    assert await sqlite_store.load_actor(ActorRef("w", "99")) == {"a": b"1", "b": b"2"}


async def test_cancelled_writer_fails_waiting_callers_instead_of_hanging(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    try:
        tasks = [asyncio.create_task(put(store, ActorRef("w", f"{n}"), k=b"v")) for n in range(20)]
        await asyncio.sleep(0)  # the callers queue their commits
        await asyncio.sleep(0)  # the writer takes them and hands the batch to its thread
        assert store._writer_task is not None
        store._writer_task.cancel()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        assert all(isinstance(r, StoreUnavailable) for r in results), results
    finally:
        await store.close()


async def test_actor_row_goes_when_the_actor_is_empty(sqlite_store: SqliteStore) -> None:
    async def actor_rows() -> int:
        return int((await sql(sqlite_store.path, "SELECT count(*) FROM actors"))[0][0])

    changes = Changes()
    changes.put(A, "k", b"v")
    changes.set_reminder(Reminder(A, "r", 10))
    await sqlite_store.commit(changes)
    assert await actor_rows() == 1

    changes = Changes()
    changes.delete(A, "k")
    await sqlite_store.commit(changes)
    assert await actor_rows() == 1  # the reminder still belongs to it

    changes = Changes()
    changes.delete_reminder(A, "r")
    await sqlite_store.commit(changes)
    assert await actor_rows() == 0

    changes = Changes()
    changes.put(B, "k", b"v")
    changes.delete_actor(B)
    changes.delete(A, "k")
    changes.delete_actor(ActorRef("workflow", "never"))
    changes.reschedule_reminder(ActorRef("workflow", "never"), "r", if_etag=0, due_ms=1, attempts=0)
    await sqlite_store.commit(changes)
    assert await actor_rows() == 0


async def test_actor_ids_stay_valid_across_deletes_and_id_reuse(
    sqlite_store: SqliteStore,
) -> None:
    # Deleting the newest actor row frees its rowid for the next new actor; the writer's
    # id cache must never hand out the old mapping.
    for i in range(6):
        await put(sqlite_store, A, k=b"%d" % i)
        changes = Changes()
        changes.delete_actor(A)
        await sqlite_store.commit(changes)
        await put(sqlite_store, B, k=b"b%d" % i)
        await put(sqlite_store, A, k=b"a%d" % i)
        assert await sqlite_store.load_actor(A) == {"k": b"a%d" % i}
        assert await sqlite_store.load_actor(B) == {"k": b"b%d" % i}
        changes = Changes()
        changes.delete(B, "k")
        await sqlite_store.commit(changes)
    assert await sql(sqlite_store.path, "PRAGMA foreign_key_check") == []


async def test_integrity_after_a_mixed_workload(sqlite_store: SqliteStore) -> None:
    async def turn(n: int) -> None:
        ref = ActorRef("workflow", f"w{n % 17}")
        changes = Changes()
        changes.put(ref, f"k{n % 5}", bytes(n % 256) * 50)
        changes.set_reminder(Reminder(ref, f"r{n % 3}", n, etag=n))
        if n % 4 == 0:
            changes.delete_reminder(ref, f"r{(n + 1) % 3}", if_etag=n - 2)
        if n % 11 == 0:
            changes.delete_actor(ref)
        await sqlite_store.commit(changes)

    await asyncio.gather(*(turn(n) for n in range(300)))
    await sqlite_store.close()
    assert await sql(sqlite_store.path, "PRAGMA integrity_check") == [("ok",)]
    assert await sql(sqlite_store.path, "PRAGMA foreign_key_check") == []
    orphans = "SELECT count(*) FROM actors AS a WHERE NOT EXISTS (SELECT 1 FROM actor_state WHERE actor = a.id) AND NOT EXISTS (SELECT 1 FROM reminders WHERE actor = a.id)"  # noqa: E501
    assert await sql(sqlite_store.path, orphans) == [(0,)]
