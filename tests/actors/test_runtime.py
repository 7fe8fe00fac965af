from __future__ import annotations

import asyncio
import random

import pytest

from tests.fakes import FakeClock, settle
from wfsidecar.actors import ActorHost, ActorRuntime, ReminderResult, TurnContext, heap
from wfsidecar.errors import (
    ActorCallCycleError,
    NotFoundError,
    ShuttingDownError,
    StoreError,
)
from wfsidecar.store.base import Changes
from wfsidecar.store.memory import MemoryStore
from wfsidecar.types import ActorRef


class Counter:
    """Counts messages in its state and checks that its turns never overlap."""

    instances = 0

    def __init__(self, ref: ActorRef, host: ActorHost) -> None:
        self.ref = ref
        self.host = host
        self.in_turn = False
        self.scratch: list[object] = []
        Counter.instances += 1

    async def on_invoke(self, ctx: TurnContext, method: str, payload: object) -> object:
        assert not self.in_turn, f"overlapping turns on {self.ref}"
        self.in_turn = True
        try:
            count = int(ctx.get("count") or b"0")
            await asyncio.sleep(random.random() / 1000)  # yield mid-turn
            self.scratch.append(payload)
            if method == "add":
                ctx.put("count", str(count + 1).encode())
                ctx.put(f"msg-{count}", repr(payload).encode())
                return count + 1
            if method == "get":
                return count
            if method == "reject":
                raise NotFoundError("refused before any change")
            if method == "reject-after-put":
                ctx.put("count", b"5")
                raise NotFoundError("refused after a change")
            if method == "fail":
                ctx.put("count", b"999")
                raise RuntimeError("boom")
            if method == "call":
                assert isinstance(payload, ActorRef)
                return await self.host.invoke(payload, "add", self.ref.id)
            if method == "call-back":
                assert isinstance(payload, ActorRef)
                return await self.host.invoke(payload, "call", self.ref)
            if method == "remind":
                ctx.put("count", str(count + 1).encode())
                ctx.set_reminder("r", due_ms=ctx.now_ms + 1000)
                return None
            if method == "seed-other":
                assert isinstance(payload, ActorRef)
                ctx.put_foreign(payload, "count", b"41")
                return None
            if method == "slow":
                await asyncio.sleep(float(str(payload)))
                ctx.put("slow", b"done")
                return None
            raise AssertionError(method)
        finally:
            self.in_turn = False

    async def on_reminder(self, ctx: TurnContext, name: str, data: bytes) -> ReminderResult:
        return ReminderResult.DONE


def counter_ref(i: int) -> ActorRef:
    return ActorRef("counter", f"c{i}")


@pytest.fixture
def runtime(store: MemoryStore, clock: FakeClock) -> ActorRuntime:
    runtime = ActorRuntime(store, clock, idle_timeout=60.0)
    runtime.register("counter", Counter)
    return runtime


async def test_thousand_messages_hundred_actors_never_overlap_and_none_lost(
    runtime: ActorRuntime, store: MemoryStore
) -> None:
    messages = [counter_ref(i % 100) for i in range(1000)]
    random.shuffle(messages)
    results = await asyncio.gather(*(runtime.invoke(ref, "add", n) for n, ref in
                                     enumerate(messages)))
    assert sorted(results) == sorted(list(range(1, 11)) * 100)
    for i in range(100):
        state = await store.load_actor(counter_ref(i))
        assert state["count"] == b"10"
        assert len([k for k in state if k.startswith("msg-")]) == 10


async def test_idle_actor_is_deactivated_and_reloaded_from_the_store(
    store: MemoryStore, clock: FakeClock
) -> None:
    runtime = ActorRuntime(store, clock, idle_timeout=30.0)
    runtime.register("counter", Counter)
    reaper = asyncio.create_task(runtime.run_idle_reaper())
    try:
        await runtime.invoke(counter_ref(1), "add", "a")
        await runtime.invoke(counter_ref(2), "add", "a")
        clock.advance(20)
        await runtime.invoke(counter_ref(2), "add", "b")  # keeps c2 warm
        await settle()
        clock.advance(15)
        await settle()
        assert not runtime.is_active(counter_ref(1))
        assert runtime.is_active(counter_ref(2))
        before = Counter.instances
        assert await runtime.invoke(counter_ref(1), "get") == 1  # state reloaded
        assert Counter.instances == before + 1  # a fresh instance
        clock.advance(31)
        await settle()
        assert runtime.active_count == 0
    finally:
        reaper.cancel()
        await asyncio.gather(reaper, return_exceptions=True)


async def test_failed_turn_leaves_no_state_behind(
    runtime: ActorRuntime, store: MemoryStore
) -> None:
    ref = counter_ref(7)
    await runtime.invoke(ref, "add", "first")
    with pytest.raises(RuntimeError, match="boom"):
        await runtime.invoke(ref, "fail")
    assert (await store.load_actor(ref))["count"] == b"1"
    assert await runtime.invoke(ref, "get") == 1
    # The instance that saw the failed turn (and its scratch list) is gone.
    assert await runtime.invoke(ref, "add", "after") == 2


class FailingCommitStore(MemoryStore):
    fail_next = False

    async def commit(self, changes: Changes) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StoreError("injected commit failure")
        await super().commit(changes)


async def test_failed_commit_drops_state_and_reminder_together(clock: FakeClock) -> None:
    store = FailingCommitStore()
    runtime = ActorRuntime(store, clock, idle_timeout=60.0)
    runtime.register("counter", Counter)
    ref = counter_ref(1)
    store.fail_next = True
    with pytest.raises(StoreError):
        await runtime.invoke(ref, "remind")
    assert await store.load_actor(ref) == {}
    assert await store.get_reminder(ref, "r") is None
    assert await runtime.invoke(ref, "get") == 0  # the cache did not keep the lost write
    await runtime.invoke(ref, "remind")
    assert (await store.load_actor(ref))["count"] == b"1"
    assert await store.get_reminder(ref, "r") is not None
    await store.close()


async def test_actor_to_actor_calls_and_cycle_detection(
    runtime: ActorRuntime, store: MemoryStore
) -> None:
    assert await runtime.invoke(counter_ref(1), "call", counter_ref(2)) == 1
    assert (await store.load_actor(counter_ref(2)))["msg-0"] == b"'c1'"
    # c1 -> c2 -> c1 would wait for c1's own lock forever; it fails fast instead.
    with pytest.raises(ActorCallCycleError, match="counter/c1 -> counter/c2 -> counter/c1"):
        await runtime.invoke(counter_ref(1), "call-back", counter_ref(2))


async def test_foreign_write_invalidates_the_cached_state(
    runtime: ActorRuntime, store: MemoryStore
) -> None:
    target = counter_ref(9)
    assert await runtime.invoke(target, "get") == 0  # activated, cache holds {}
    await runtime.invoke(counter_ref(1), "seed-other", target)
    assert await runtime.invoke(target, "get") == 41


async def test_unknown_actor_type_is_not_found(runtime: ActorRuntime) -> None:
    with pytest.raises(NotFoundError, match="nosuch"):
        await runtime.invoke(ActorRef("nosuch", "x"), "get")


async def test_drain_lets_turns_finish_then_refuses_new_ones(
    runtime: ActorRuntime, store: MemoryStore
) -> None:
    slow = asyncio.create_task(runtime.invoke(counter_ref(1), "slow", 0.05))
    await asyncio.sleep(0.01)
    await runtime.drain(5.0)
    assert slow.done() and slow.exception() is None
    assert (await store.load_actor(counter_ref(1)))["slow"] == b"done"
    with pytest.raises(ShuttingDownError):
        await runtime.invoke(counter_ref(2), "get")


async def test_drain_cancels_turns_past_the_deadline(
    runtime: ActorRuntime, store: MemoryStore
) -> None:
    stuck = asyncio.create_task(runtime.invoke(counter_ref(1), "slow", 30))
    await asyncio.sleep(0.01)
    await runtime.drain(0.05)
    with pytest.raises(asyncio.CancelledError):
        await stuck
    assert await store.load_actor(counter_ref(1)) == {}


async def test_refusal_keeps_the_activation_but_not_after_changes(
    runtime: ActorRuntime, store: MemoryStore
) -> None:
    ref = counter_ref(3)
    await runtime.invoke(ref, "add", "x")
    before = Counter.instances
    with pytest.raises(NotFoundError):
        await runtime.invoke(ref, "reject")
    assert Counter.instances == before  # same instance, same in-flight work
    with pytest.raises(NotFoundError):
        await runtime.invoke(ref, "reject-after-put")
    assert Counter.instances == before + 1  # rebuilt: it had touched its state
    assert await runtime.invoke(ref, "get") == 1


class CountingClock(FakeClock):
    waits = 0

    async def wait(self, event: asyncio.Event, max_wait: float | None) -> bool:
        self.waits += 1
        return await super().wait(event, max_wait)


async def test_a_burst_of_idle_actors_is_unloaded_in_few_wakeups_and_memory_returned(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 200 actors used 10 ms apart expire 10 ms apart: one reaper wakeup each (and a timer
    # each) was 30 ms of CPU a second at 10,000 idle instances (issue #14).
    trims: list[int] = []
    monkeypatch.setattr(heap, "TRIM_AFTER_UNLOADS", 50)
    monkeypatch.setattr(heap, "return_free_memory", lambda: trims.append(1))
    clock = CountingClock()
    runtime = ActorRuntime(store, clock, idle_timeout=30.0)
    runtime.register("counter", Counter)
    reaper = asyncio.create_task(runtime.run_idle_reaper())
    try:
        for i in range(200):
            await runtime.invoke(counter_ref(i), "add", "a")
            clock.advance(0.01)
        clock.advance(27.5)  # before the first expires
        await settle()
        assert runtime.active_count == 200
        waits_before = clock.waits
        for _ in range(60):  # past the last expiry, in 0.1 s steps
            clock.advance(0.1)
            await settle()
        assert runtime.active_count == 0
        assert clock.waits - waits_before <= 5
        assert trims  # 200 unloads: the freed memory was handed back
    finally:
        reaper.cancel()
        await asyncio.gather(reaper, return_exceptions=True)
