"""``ReminderScheduler.backlog()``: what is due, overdue, firing and parked, as the
metrics read it; a fake clock and a handler that blocks make the scheduler fall behind."""

from __future__ import annotations

import asyncio

from tests.fakes import FakeClock, settle
from wfsidecar.actors import ActorHost, ActorRuntime, ReminderResult, ReminderScheduler, TurnContext
from wfsidecar.actors.reminders import ReminderBacklog, SchedulerSettings
from wfsidecar.store.memory import MemoryStore
from wfsidecar.types import ActorRef

GATE = asyncio.Event()


class Slow:
    """Its reminders block until GATE opens; "park" ones park instead."""

    def __init__(self, ref: ActorRef, host: ActorHost) -> None:
        self.ref = ref

    async def on_invoke(self, ctx: TurnContext, method: str, payload: object) -> object:
        ctx.set_reminder(method, due_ms=ctx.now_ms + 1000)
        return None

    async def on_reminder(self, ctx: TurnContext, name: str, data: bytes) -> ReminderResult:
        if name == "park":
            return ReminderResult.PARK
        await GATE.wait()
        return ReminderResult.DONE


async def test_backlog_counts_due_overdue_firing_and_parked(
    store: MemoryStore, clock: FakeClock
) -> None:
    GATE.clear()
    runtime = ActorRuntime(store, clock, idle_timeout=600)
    runtime.register("slow", Slow)
    # One firing at a time: the second due reminder has to wait for the first.
    scheduler = ReminderScheduler(store, runtime, clock, SchedulerSettings(
        prefetch_window=60, prefetch_limit=100, max_concurrent=1, retry_initial=1,
        retry_max=8))
    task = asyncio.create_task(scheduler.run())
    try:
        assert scheduler.backlog() == ReminderBacklog(0, 0, 0, 0)
        await runtime.invoke(ActorRef("slow", "parked"), "park")
        clock.advance(1.1)
        await settle()
        assert scheduler.backlog() == ReminderBacklog(0, 0, 0, 1)
        await runtime.invoke(ActorRef("slow", "a"), "work")
        await runtime.invoke(ActorRef("slow", "b"), "work")
        clock.advance(1.2)  # both due 0.2 s ago: one fires, one waits, neither overdue yet
        await settle()
        assert scheduler.backlog() == ReminderBacklog(due=2, overdue=0, firing=1, parked=1)
        clock.advance(1.0)  # the waiting one is now over a second late
        await settle()
        assert scheduler.backlog() == ReminderBacklog(due=2, overdue=1, firing=1, parked=1)
        GATE.set()
        await settle()
        assert scheduler.backlog() == ReminderBacklog(0, 0, 0, 1)
    finally:
        GATE.set()
        scheduler.stop()
        await asyncio.wait_for(task, 5)
