from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from tests.fakes import FakeClock, settle
from wfsidecar.actors import ActorHost, ActorRuntime, ReminderResult, ReminderScheduler, TurnContext
from wfsidecar.actors.reminders import SchedulerSettings, next_period_due, retry_delay_ms
from wfsidecar.store.base import Changes, Reminder
from wfsidecar.store.memory import MemoryStore
from wfsidecar.types import ActorRef


@dataclass
class Journal:
    fired: list[tuple[str, str, int]] = field(default_factory=list)
    behaviour: dict[str, str] = field(default_factory=dict)


JOURNAL = Journal()


class Pinger:
    def __init__(self, ref: ActorRef, host: ActorHost) -> None:
        self.ref = ref

    async def on_invoke(self, ctx: TurnContext, method: str, payload: object) -> object:
        if method == "set":
            assert isinstance(payload, tuple)
            name, delay_s, period_s = payload
            ctx.set_reminder(name, due_ms=ctx.now_ms + int(delay_s * 1000),
                             period_ms=int(period_s * 1000) if period_s else None,
                             data=name.encode())
        elif method == "delete-all":
            ctx.delete_actor()
        return None

    async def on_reminder(self, ctx: TurnContext, name: str, data: bytes) -> ReminderResult:
        JOURNAL.fired.append((self.ref.id, name, ctx.now_ms))
        assert data == name.encode()
        mode = JOURNAL.behaviour.get(name, "done")
        ctx.put(f"fired-{len(JOURNAL.fired)}", b"x")
        if mode == "retry":
            return ReminderResult.RETRY
        if mode == "raise":
            raise RuntimeError("reminder handler crashed")
        if mode == "reset":
            ctx.set_reminder(name, due_ms=ctx.now_ms + 50_000, data=data)
        return ReminderResult.DONE


SETTINGS = SchedulerSettings(prefetch_window=60, prefetch_limit=100, max_concurrent=16,
                             retry_initial=1, retry_max=8)


@pytest.fixture
async def system(
    store: MemoryStore, clock: FakeClock
) -> AsyncIterator[tuple[ActorRuntime, ReminderScheduler]]:
    JOURNAL.fired.clear()
    JOURNAL.behaviour.clear()
    runtime = ActorRuntime(store, clock, idle_timeout=600)
    runtime.register("pinger", Pinger)
    scheduler = ReminderScheduler(store, runtime, clock, SETTINGS)
    task = asyncio.create_task(scheduler.run())
    await settle()
    yield runtime, scheduler
    scheduler.stop()
    await asyncio.wait_for(task, 5)


def pinger(i: str) -> ActorRef:
    return ActorRef("pinger", i)


async def step(clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    await settle()


async def test_reminders_fire_in_due_order_and_not_before(
    system: tuple[ActorRuntime, ReminderScheduler], clock: FakeClock, store: MemoryStore
) -> None:
    runtime, _ = system
    start = clock.now_ms()
    for name, delay in [("c", 3), ("a", 1), ("b", 2)]:
        await runtime.invoke(pinger(name), "set", (name, delay, None))
    await step(clock, 0.5)
    assert JOURNAL.fired == []
    for _ in range(6):
        await step(clock, 0.5)
    assert [(n, t - start) for _, n, t in JOURNAL.fired] == [
        ("a", 1000), ("b", 2000), ("c", 3000)]
    # One-shot reminders are deleted in the firing turn's transaction.
    assert await store.reminders_due_before(2**62, 10) == []


async def test_periodic_reminder_rearms_and_skips_missed_periods(
    system: tuple[ActorRuntime, ReminderScheduler], clock: FakeClock, store: MemoryStore
) -> None:
    runtime, _ = system
    start = clock.now_ms()
    await runtime.invoke(pinger("p"), "set", ("tick", 1, 1))
    for _ in range(3):
        await step(clock, 1)
    assert [t - start for _, _, t in JOURNAL.fired] == [1000, 2000, 3000]
    await step(clock, 10.5)  # one late firing, not ten
    assert len(JOURNAL.fired) == 4
    left = await store.get_reminder(pinger("p"), "tick")
    assert left is not None and left.due_ms == start + 14000


async def test_retry_backs_off_exponentially_with_a_cap_and_persists_attempts(
    system: tuple[ActorRuntime, ReminderScheduler], clock: FakeClock, store: MemoryStore
) -> None:
    runtime, _ = system
    JOURNAL.behaviour["flaky"] = "retry"
    start = clock.now_ms()
    await runtime.invoke(pinger("r"), "set", ("flaky", 0, None))
    for _ in range(60):
        await step(clock, 0.5)
    offsets = [t - start for _, _, t in JOURNAL.fired]
    gaps = [b - a for a, b in zip(offsets, offsets[1:], strict=False)]
    assert gaps[:5] == [1000, 2000, 4000, 8000, 8000]  # 1, 2, 4, then capped at 8
    stored = await store.get_reminder(pinger("r"), "flaky")
    assert stored is not None and stored.attempts == len(JOURNAL.fired)


async def test_failing_handler_rolls_back_its_turn_and_retries(
    system: tuple[ActorRuntime, ReminderScheduler], clock: FakeClock, store: MemoryStore
) -> None:
    runtime, _ = system
    JOURNAL.behaviour["crash"] = "raise"
    await runtime.invoke(pinger("x"), "set", ("crash", 0, None))
    await step(clock, 0.1)
    await step(clock, 1.1)
    assert len(JOURNAL.fired) == 2
    state = await store.load_actor(pinger("x"))
    assert not [k for k in state if k.startswith("fired-")]
    stored = await store.get_reminder(pinger("x"), "crash")
    assert stored is not None and stored.attempts == 2


async def test_reminder_reset_by_its_own_firing_survives(
    system: tuple[ActorRuntime, ReminderScheduler], clock: FakeClock, store: MemoryStore
) -> None:
    runtime, _ = system
    JOURNAL.behaviour["again"] = "reset"
    await runtime.invoke(pinger("s"), "set", ("again", 1, None))
    await step(clock, 1)
    stored = await store.get_reminder(pinger("s"), "again")
    assert stored is not None and stored.due_ms == clock.now_ms() + 50_000


async def test_deleting_an_actor_deletes_its_reminders(
    system: tuple[ActorRuntime, ReminderScheduler], clock: FakeClock, store: MemoryStore
) -> None:
    runtime, _ = system
    await runtime.invoke(pinger("d"), "set", ("soon", 1, None))
    await runtime.invoke(pinger("d"), "set", ("later", 100, None))
    await runtime.invoke(pinger("d"), "delete-all")
    assert await store.get_reminder(pinger("d"), "soon") is None
    assert await store.get_reminder(pinger("d"), "later") is None
    for _ in range(4):
        await step(clock, 60)
    assert JOURNAL.fired == []


async def test_far_future_reminders_load_when_their_window_comes(
    system: tuple[ActorRuntime, ReminderScheduler], clock: FakeClock
) -> None:
    runtime, _ = system
    tasks_before = len(asyncio.all_tasks())
    for i in range(300):
        await runtime.invoke(pinger(f"f{i}"), "set", ("far", 3600 + i, None))
    # No task per reminder: the scheduler still has one timer task.
    assert len(asyncio.all_tasks()) == tasks_before
    await step(clock, 3599)
    assert JOURNAL.fired == []
    for _ in range(12):
        await step(clock, 30)
    assert len(JOURNAL.fired) == 300
    assert [n for n, _, _ in JOURNAL.fired] == [f"f{i}" for i in range(300)]


async def test_overdue_reminders_fire_at_start(store: MemoryStore, clock: FakeClock) -> None:
    JOURNAL.fired.clear()
    changes = Changes()
    for i in range(5):
        changes.set_reminder(Reminder(pinger(f"o{i}"), "late", clock.now_ms() - 10_000 + i,
                                      data=b"late", etag=i))
    await store.commit(changes)
    runtime = ActorRuntime(store, clock, idle_timeout=600)
    runtime.register("pinger", Pinger)
    scheduler = ReminderScheduler(store, runtime, clock, SETTINGS)
    task = asyncio.create_task(scheduler.run())
    await settle()
    assert sorted(i for i, _, _ in JOURNAL.fired) == [f"o{i}" for i in range(5)]
    scheduler.stop()
    await asyncio.wait_for(task, 5)


def test_backoff_and_period_arithmetic() -> None:
    assert [retry_delay_ms(a, SETTINGS) for a in range(6)] == [1000, 2000, 4000, 8000, 8000, 8000]
    assert retry_delay_ms(10_000, SETTINGS) == 8000
    r = Reminder(pinger("p"), "t", due_ms=10_000, period_ms=1000)
    assert next_period_due(r, 10_000) == 11_000
    assert next_period_due(r, 10_999) == 11_000
    assert next_period_due(r, 15_500) == 16_000


class Parker:
    """Hands work elsewhere and parks its reminder until told the work is done."""

    handed: list[str] = []

    def __init__(self, ref: ActorRef, host: ActorHost) -> None:
        self.ref = ref

    async def on_invoke(self, ctx: TurnContext, method: str, payload: object) -> object:
        if method == "arm":
            ctx.set_reminder("work", due_ms=ctx.now_ms)
        elif method == "finish":
            ctx.delete_reminder("work")
        elif method == "rearm":
            ctx.set_reminder("work", due_ms=ctx.now_ms)
        return None

    async def on_reminder(self, ctx: TurnContext, name: str, data: bytes) -> ReminderResult:
        Parker.handed.append(self.ref.id)
        return ReminderResult.PARK


async def test_parked_reminder_stays_stored_but_does_not_refire_until_reset(
    store: MemoryStore, clock: FakeClock
) -> None:
    Parker.handed = []
    runtime = ActorRuntime(store, clock, idle_timeout=600)
    runtime.register("parker", Parker)
    scheduler = ReminderScheduler(store, runtime, clock, SETTINGS)
    task = asyncio.create_task(scheduler.run())
    try:
        ref = ActorRef("parker", "p")
        await runtime.invoke(ref, "arm")
        for _ in range(5):
            await step(clock, 61)  # several refill windows: still parked
        assert Parker.handed == ["p"]
        assert await store.get_reminder(ref, "work") is not None  # a restart would re-fire
        await runtime.invoke(ref, "rearm")  # re-setting un-parks it
        await step(clock, 0.1)
        assert Parker.handed == ["p", "p"]
        await runtime.invoke(ref, "finish")
        assert await store.get_reminder(ref, "work") is None
    finally:
        scheduler.stop()
        await asyncio.wait_for(task, 5)


async def test_a_page_of_parked_reminders_does_not_hide_the_rest(
    store: MemoryStore, clock: FakeClock
) -> None:
    """More parked reminders than a prefetch page holds, with other reminders due after
    them: the others still fire (found by bench/scale.py recovery: 1,000 in flight after a
    restart never drained, the window full of parked rows and nothing left to fire)."""
    Parker.handed = []
    JOURNAL.fired.clear()
    runtime = ActorRuntime(store, clock, idle_timeout=600)
    runtime.register("parker", Parker)
    runtime.register("pinger", Pinger)
    settings = SchedulerSettings(prefetch_window=60, prefetch_limit=3, max_concurrent=16,
                                 retry_initial=1, retry_max=8)
    scheduler = ReminderScheduler(store, runtime, clock, settings)
    task = asyncio.create_task(scheduler.run())
    try:
        for i in range(5):  # five actors hand work out and park: more than a page
            await runtime.invoke(ActorRef("parker", f"p{i}"), "arm")
        await step(clock, 0.1)
        assert sorted(Parker.handed) == [f"p{i}" for i in range(5)]
        for i in range(4):  # due later than every parked one, and more than a page too
            await runtime.invoke(pinger(f"g{i}"), "set", ("go", 0.5, None))
        for _ in range(10):
            await step(clock, 61)  # several windows, as after a restart's refill
        assert sorted(i for i, _, _ in JOURNAL.fired) == [f"g{i}" for i in range(4)]
        assert sorted(Parker.handed) == [f"p{i}" for i in range(5)]  # none re-fired
    finally:
        scheduler.stop()
        await asyncio.wait_for(task, 5)
