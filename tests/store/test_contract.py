"""The StateStore contract: one suite, run against every implementation (style.md §3.14).

The ``store`` fixture (conftest.py) is parametrized over the memory and SQLite stores, so
each test here runs once per implementation.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from wfsidecar.errors import StoreError, StoreUnavailable
from wfsidecar.store.base import Changes, Reminder, StateStore
from wfsidecar.types import ActorRef

A = ActorRef("workflow", "a")
B = ActorRef("workflow", "b")
NOT_BYTES: Any = "text"


async def put(store: StateStore, ref: ActorRef, **values: bytes) -> None:
    changes = Changes()
    for key, value in values.items():
        changes.put(ref, key, value)
    await store.commit(changes)


async def set_reminders(store: StateStore, *reminders: Reminder) -> None:
    changes = Changes()
    for reminder in reminders:
        changes.set_reminder(reminder)
    await store.commit(changes)


async def all_reminders(store: StateStore) -> list[Reminder]:
    return await store.reminders_due_before(2**62, 1_000_000)


# -- state ------------------------------------------------------------------------------


async def test_put_load_and_delete_keys(store: StateStore) -> None:
    await put(store, A, x=b"1", y=b"2")
    assert await store.load_actor(A) == {"x": b"1", "y": b"2"}

    changes = Changes()
    changes.put(A, "x", b"one")
    changes.delete(A, "y")
    changes.delete(A, "never-existed")
    await store.commit(changes)
    assert await store.load_actor(A) == {"x": b"one"}


async def test_unknown_actor_loads_empty(store: StateStore) -> None:
    await put(store, A, x=b"1")
    assert await store.load_actor(B) == {}
    assert await store.load_actor(ActorRef("activity", "a")) == {}  # same id, other type
    assert await store.get_reminder(B, "r") is None


async def test_actors_are_isolated_by_type_and_id(store: StateStore) -> None:
    other_type = ActorRef("activity", A.id)
    await put(store, A, k=b"workflow")
    await put(store, other_type, k=b"activity")
    await put(store, B, k=b"b")
    assert await store.load_actor(A) == {"k": b"workflow"}
    assert await store.load_actor(other_type) == {"k": b"activity"}


async def test_bytes_and_keys_round_trip(store: StateStore) -> None:
    every_byte = bytes(range(256))
    values = {"empty": b"", "binary": every_byte, "nul": b"\x00\x00", "big": every_byte * 400}
    values["ключ ✓ with spaces/and:colons"] = b"\xff\xfe"
    changes = Changes()
    for key, value in values.items():
        changes.put(A, key, value)
    await store.commit(changes)
    loaded = await store.load_actor(A)
    assert loaded == values
    assert all(type(v) is bytes for v in loaded.values())


async def test_delete_actor_removes_state_and_reminders(store: StateStore) -> None:
    await put(store, A, x=b"1", y=b"2")
    await put(store, B, x=b"b")
    await set_reminders(store, Reminder(A, "r1", 10), Reminder(A, "r2", 20), Reminder(B, "r", 5))
    changes = Changes()
    changes.delete_actor(A)
    await store.commit(changes)
    assert await store.load_actor(A) == {}
    assert await store.get_reminder(A, "r1") is None
    assert [r.ref for r in await all_reminders(store)] == [B]
    assert await store.load_actor(B) == {"x": b"b"}


async def test_ops_apply_in_order(store: StateStore) -> None:
    await put(store, A, old=b"1")
    await set_reminders(store, Reminder(A, "old", 10))

    changes = Changes()
    changes.delete_actor(A)
    changes.put(A, "new", b"2")
    changes.set_reminder(Reminder(A, "new", 20))
    await store.commit(changes)
    assert await store.load_actor(A) == {"new": b"2"}
    assert [r.name for r in await all_reminders(store)] == ["new"]

    changes = Changes()
    changes.put(A, "k", b"first")
    changes.put(A, "k", b"second")
    changes.put(B, "gone", b"x")
    changes.delete_actor(B)
    await store.commit(changes)
    assert (await store.load_actor(A))["k"] == b"second"
    assert await store.load_actor(B) == {}


async def test_long_runs_of_ops_keep_their_order(store: StateStore) -> None:
    # Long enough to cross the SQLite store's multi-row statement chunks (16 rows).
    changes = Changes()
    for i in range(40):
        changes.put(A, "same", b"%d" % i)
        changes.put(A, f"k{i}", b"x")
        changes.set_reminder(Reminder(A, "same", i, etag=i))
        changes.set_reminder(Reminder(A, f"r{i}", 1000 + i))
    for i in range(0, 40, 2):
        changes.delete(A, f"k{i}")
        changes.delete_reminder(A, f"r{i}")
    changes.put(A, "k0", b"back")
    await store.commit(changes)
    state = await store.load_actor(A)
    assert state.pop("same") == b"39"
    assert state.pop("k0") == b"back"
    assert state == {f"k{i}": b"x" for i in range(1, 40, 2)}
    assert await store.get_reminder(A, "same") == Reminder(A, "same", 39, etag=39)
    names = [r.name for r in await all_reminders(store)]
    assert names == ["same", *(f"r{i}" for i in range(1, 40, 2))]


async def test_empty_changes_commit_is_a_no_op(store: StateStore) -> None:
    await store.commit(Changes())
    assert await store.load_actor(A) == {}


async def test_later_mutation_of_committed_changes_has_no_effect(store: StateStore) -> None:
    changes = Changes()
    changes.put(A, "k", b"v")
    await store.commit(changes)
    changes.put(A, "k", b"changed afterwards")
    loaded = await store.load_actor(A)
    loaded["k"] = b"changed in the caller's copy"
    assert await store.load_actor(A) == {"k": b"v"}


# -- reminders --------------------------------------------------------------------------


async def test_reminder_round_trip_and_upsert(store: StateStore) -> None:
    original = Reminder(A, "timer", 100, period_ms=50, data=b"\x00payload", attempts=2, etag=7)
    await set_reminders(store, original)
    assert await store.get_reminder(A, "timer") == original

    replacement = Reminder(A, "timer", 300, period_ms=None, data=b"", attempts=0, etag=8)
    await set_reminders(store, replacement)
    assert await store.get_reminder(A, "timer") == replacement
    assert await all_reminders(store) == [replacement]


async def test_reminders_due_before_orders_limits_and_excludes_bound(store: StateStore) -> None:
    await set_reminders(
        store,
        Reminder(B, "late", 300),
        Reminder(A, "z", 100),
        Reminder(B, "a", 100),
        Reminder(A, "a", 100),
        Reminder(A, "early", 50),
        Reminder(A, "at-bound", 400),
    )
    due = await store.reminders_due_before(400, 100)
    # due_ms first, then (type, id, name) as the tiebreak both stores share.
    assert [(r.due_ms, r.ref.id, r.name) for r in due] == [
        (50, "a", "early"),
        (100, "a", "a"),
        (100, "a", "z"),
        (100, "b", "a"),
        (300, "b", "late"),
    ]
    assert [r.name for r in await store.reminders_due_before(400, 2)] == ["early", "a"]
    assert await store.reminders_due_before(50, 10) == []  # the bound is exclusive
    assert await store.reminders_due_before(1_000, 0) == []
    assert len(await store.reminders_due_before(401, 10)) == 6


async def test_delete_reminder_unconditional_and_by_etag(store: StateStore) -> None:
    await set_reminders(store, Reminder(A, "r", 10, etag=1), Reminder(A, "s", 10, etag=1))

    changes = Changes()
    changes.delete_reminder(A, "r", if_etag=2)  # someone re-set it: keep theirs
    await store.commit(changes)
    assert await store.get_reminder(A, "r") is not None

    changes = Changes()
    changes.delete_reminder(A, "r", if_etag=1)
    changes.delete_reminder(A, "s")
    changes.delete_reminder(A, "missing")
    changes.delete_reminder(B, "missing", if_etag=1)
    await store.commit(changes)
    assert await all_reminders(store) == []


async def test_reschedule_reminder_only_on_matching_etag(store: StateStore) -> None:
    await set_reminders(store, Reminder(A, "r", 10, period_ms=5, data=b"d", attempts=0, etag=4))

    changes = Changes()
    changes.reschedule_reminder(A, "r", if_etag=3, due_ms=999, attempts=9)
    changes.reschedule_reminder(A, "missing", if_etag=4, due_ms=999, attempts=9)
    changes.reschedule_reminder(B, "r", if_etag=4, due_ms=999, attempts=9)
    await store.commit(changes)
    assert await store.get_reminder(A, "r") == Reminder(A, "r", 10, 5, b"d", 0, 4)
    assert await store.get_reminder(A, "missing") is None
    assert await store.get_reminder(B, "r") is None

    changes = Changes()
    changes.reschedule_reminder(A, "r", if_etag=4, due_ms=20, attempts=1)
    await store.commit(changes)
    assert await store.get_reminder(A, "r") == Reminder(A, "r", 20, 5, b"d", 1, 4)
    assert [r.due_ms for r in await store.reminders_due_before(21, 10)] == [20]


async def test_state_and_reminder_commit_together(store: StateStore) -> None:
    changes = Changes()
    changes.put(A, "history", b"h")
    changes.set_reminder(Reminder(A, "timer", 10))
    changes.delete_reminder(A, "timer")  # later op in the same commit wins
    changes.set_reminder(Reminder(A, "other", 20))
    await store.commit(changes)
    assert await store.load_actor(A) == {"history": b"h"}
    assert [r.name for r in await all_reminders(store)] == ["other"]


# -- atomicity, validation and concurrency ----------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda c: c.put(A, "k", "text"), id="str-value"),
        pytest.param(lambda c: c.put(A, "k", bytearray(b"x")), id="bytearray-value"),
        pytest.param(lambda c: c.put(A, 5, b"x"), id="int-key"),
        pytest.param(lambda c: c.put(("workflow", "a"), "k", b"x"), id="tuple-ref"),
        pytest.param(lambda c: c.put(A, "bad\udc80", b"x"), id="surrogate-key"),
        pytest.param(lambda c: c.delete_actor(ActorRef("w", "\ud800")), id="surrogate-ref"),
        pytest.param(lambda c: c.set_reminder(Reminder(A, "r", 2**63)), id="due-overflow"),
        pytest.param(lambda c: c.set_reminder(Reminder(A, "r", 1, data=NOT_BYTES)), id="str-data"),
        pytest.param(lambda c: c.ops.append("not an op"), id="unknown-op"),
    ],
)
async def test_invalid_changes_are_rejected_whole(store: StateStore, bad: Any) -> None:
    await put(store, A, keep=b"old")
    changes = Changes()
    changes.put(A, "keep", b"new")
    changes.put(B, "other", b"x")
    bad(changes)
    changes.put(A, "after", b"x")
    with pytest.raises(StoreError):
        await store.commit(changes)
    assert await store.load_actor(A) == {"keep": b"old"}
    assert await store.load_actor(B) == {}
    assert await all_reminders(store) == []


async def test_concurrent_commits_all_land(store: StateStore) -> None:
    async def turn(n: int) -> None:
        changes = Changes()
        ref = ActorRef("workflow", f"w{n % 50}")
        for j in range(3):
            changes.put(ref, f"t{n}.{j}", f"{n}".encode())
        changes.put(ActorRef("activity", f"a{n}"), "result", f"{n}".encode())
        changes.set_reminder(Reminder(ref, f"r{n}", n))
        await store.commit(changes)

    await asyncio.gather(*(turn(n) for n in range(200)))
    for n in range(200):
        state = await store.load_actor(ActorRef("workflow", f"w{n % 50}"))
        assert [state[f"t{n}.{j}"] for j in range(3)] == [f"{n}".encode()] * 3
        assert await store.load_actor(ActorRef("activity", f"a{n}")) == {"result": f"{n}".encode()}
    assert [r.due_ms for r in await all_reminders(store)] == list(range(200))


async def test_failing_caller_is_isolated_from_its_burst(store: StateStore) -> None:
    async def turn(n: int) -> None:
        ref = ActorRef("workflow", f"w{n}")
        changes = Changes()
        changes.put(ref, "a", b"x")
        value: Any = "not bytes" if n == 7 else b"y"
        changes.put(ref, "b", value)
        await store.commit(changes)

    results = await asyncio.gather(*(turn(n) for n in range(20)), return_exceptions=True)
    assert [n for n, r in enumerate(results) if r is not None] == [7]
    assert isinstance(results[7], StoreError)
    assert await store.load_actor(ActorRef("workflow", "w7")) == {}
    for n in set(range(20)) - {7}:
        assert await store.load_actor(ActorRef("workflow", f"w{n}")) == {"a": b"x", "b": b"y"}


async def test_readers_never_see_half_a_commit(store: StateStore) -> None:
    keys = [f"k{i}" for i in range(8)]
    stop = asyncio.Event()

    async def writer() -> None:
        for n in range(150):
            changes = Changes()
            for key in keys:
                changes.put(A, key, b"%d" % n)
            await store.commit(changes)
            await asyncio.sleep(0)  # the memory store never yields on its own
        stop.set()

    async def reader() -> int:
        seen = 0
        while not stop.is_set():
            state = await store.load_actor(A)
            assert len(set(state.values())) <= 1, state
            seen += 1
            await asyncio.sleep(0)
        return seen

    _, seen = await asyncio.gather(writer(), reader())
    assert seen > 0


async def test_use_after_close_raises_store_unavailable(store: StateStore) -> None:
    await put(store, A, k=b"v")
    await store.close()
    await store.close()  # idempotent
    changes = Changes()
    changes.put(A, "k", b"w")
    with pytest.raises(StoreUnavailable):
        await store.commit(changes)
    with pytest.raises(StoreUnavailable):
        await store.load_actor(A)
    with pytest.raises(StoreUnavailable):
        await store.reminders_due_before(100, 10)


async def test_list_actor_ids_pages_by_cursor_and_skips_stateless(store: StateStore) -> None:
    for name in ["c", "a", "e", "b", "d"]:
        await put(store, ActorRef("workflow", name), metadata=b"{}")
    await put(store, ActorRef("activity", "a#1"), req=b"x")
    await set_reminders(store, Reminder(ActorRef("workflow", "zz-only-reminder"), "r", 1))
    first = await store.list_actor_ids("workflow", after=None, limit=2)
    assert first == ["a", "b"]
    rest = await store.list_actor_ids("workflow", after=first[-1], limit=10)
    assert rest == ["c", "d", "e"]
    assert await store.list_actor_ids("activity", after=None, limit=10) == ["a#1"]
    deleting = Changes()
    deleting.delete_actor(ActorRef("workflow", "c"))
    await store.commit(deleting)
    assert await store.list_actor_ids("workflow", after="b", limit=10) == ["d", "e"]
