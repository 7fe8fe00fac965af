"""ReminderScheduler: fires durable reminders through the actor runtime.

One timer task serves every reminder. It keeps an in-memory index of the reminders due
within a prefetch window (``ReminderIndex``), refilled from the store's due-time index once
per window, and fed by the runtime's commit listener when a turn sets a reminder that falls
inside the window. It sleeps until the earliest due time or until a commit wakes it, so
there is no polling tick and no sleeping task per far-future reminder.

Firing is at-least-once: the reminder row stays in the store until the firing turn commits
its outcome (delete, re-arm or back off) in the same transaction as the turn's own changes.
A crash before that commit leaves the row in place, and it fires again after restart.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from wfsidecar.actors.base import Actor, ReminderResult
from wfsidecar.actors.reminder_index import ReminderIndex, ReminderKey
from wfsidecar.actors.runtime import ActorRuntime
from wfsidecar.actors.turn import TurnContext
from wfsidecar.clock import Clock
from wfsidecar.errors import ShuttingDownError, StoreError
from wfsidecar.store.base import Changes, Reminder, StateStore
from wfsidecar.types import ActorRef

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """Tuning of the scheduler (from the ``reminders`` config section)."""

    prefetch_window: float = 60.0
    prefetch_limit: int = 1000
    max_concurrent: int = 256
    retry_initial: float = 1.0
    retry_max: float = 300.0


# A reminder due this long ago whose firing has not begun means the scheduler is behind.
OVERDUE_AFTER_MS = 1000


@dataclass(frozen=True, slots=True)
class ReminderBacklog:
    """The scheduler's reminders that are due, as a snapshot (metrics)."""

    due: int  # due by now and not parked: firing, or waiting for a firing slot
    overdue: int  # due over OVERDUE_AFTER_MS ago and not firing yet
    firing: int  # firings in flight
    parked: int  # fired; their actors wait for a worker's answer before they fire again


def retry_delay_ms(attempts: int, settings: SchedulerSettings) -> int:
    """Capped exponential backoff: initial * 2**attempts, at most retry_max."""
    delay = settings.retry_initial * (2.0 ** min(attempts, 62))
    return int(min(delay, settings.retry_max) * 1000)


def next_period_due(reminder: Reminder, now_ms: int) -> int:
    """The first period boundary after ``now_ms`` (missed periods are skipped, not replayed)."""
    assert reminder.period_ms
    behind = max(now_ms - reminder.due_ms, 0)
    periods = max(1, math.ceil((behind + 1) / reminder.period_ms))
    return reminder.due_ms + periods * reminder.period_ms


class ReminderScheduler:
    """The single timer task over the reminders due soon."""

    def __init__(
        self,
        store: StateStore,
        runtime: ActorRuntime,
        clock: Clock,
        settings: SchedulerSettings,
    ) -> None:
        self._store = store
        self._runtime = runtime
        self._clock = clock
        self._settings = settings
        self._index = ReminderIndex()
        self._inflight: set[ReminderKey] = set()
        self._window_truncated = False
        self._wake = asyncio.Event()
        self._during_refill: list[Changes] | None = None
        self._reload_after_refill = False
        self._stopping = False
        self._owns: Callable[[ActorRef], bool] | None = None
        self.fired = 0
        runtime.add_commit_listener(self._on_commit)
        runtime.add_reset_listener(self._on_reset)
        runtime.add_keep_alive(self._holds_parked)

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """Fire reminders until ``stop()``; then wait for the firings in flight."""
        async with asyncio.TaskGroup() as firings:
            while not self._stopping:
                now = self._clock.now_ms()
                if (self._window_truncated and not self._inflight
                        and self._index.earliest_due() is None):
                    # A full page whose reminders were all parked or in flight when it was
                    # loaded leaves nothing to fire and so no firing to make room: the rows
                    # past the page would wait forever (1,000 in flight after a restart).
                    self._window_truncated = False
                if now >= self._index.window_end and not self._window_truncated:
                    await self._refill(now)
                    continue
                self._launch_due(now, firings)
                self._wake.clear()
                await self._clock.wait(self._wake, self._seconds_until_next(now))

    def stop(self) -> None:
        """Stop launching firings; ``run()`` returns once those in flight are done."""
        self._stopping = True
        self._wake.set()

    def store_writable(self) -> None:
        """The store commits again after a fault: reload the window from it. Backoffs
        that could not be committed during the fault lived only in memory and grew up to
        ``retry_max``; the stored rows still hold the original due times, so what waited
        for the fault fires now instead of minutes after it cleared."""
        self.reload()

    def reload(self) -> None:
        """Reload the window from the store now (another daemon wrote a reminder for an
        actor of this one, or this daemon's partitions changed)."""
        if self._during_refill is not None:
            # The query in flight may have read the store before that write: load again
            # once it is done, or the reminder waits for the next window.
            self._reload_after_refill = True
        self._index.window_end = 0
        self._window_truncated = False
        self._wake.set()

    def fire_only(self, owns: Callable[[ActorRef], bool]) -> None:
        """Fire only reminders of actors for which ``owns`` is true (several daemons on
        one database: a turn may set a reminder on another daemon's actor, which its
        owner fires; docs/multi-node.md)."""
        self._owns = owns

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def backlog(self) -> ReminderBacklog:
        """What is due now, counted over the in-memory window (which holds every reminder
        due by now, unless more than ``prefetch_limit`` are)."""
        now = self._clock.now_ms()
        due, overdue = self._index.backlog(now, now - OVERDUE_AFTER_MS, self._inflight)
        return ReminderBacklog(due, overdue, len(self._inflight), self._index.parked_count)

    # -- the window ----------------------------------------------------------------

    async def _refill(self, now: int) -> None:
        bound = now + int(self._settings.prefetch_window * 1000)
        # Parked and in-flight reminders are due but cannot fire: the page holds
        # prefetch_limit reminders beyond them, so it never fills up with them alone.
        limit = self._settings.prefetch_limit + self._index.parked_count + len(self._inflight)
        self._during_refill = []
        try:
            due = await self._store.reminders_due_before(bound, limit)
        finally:
            committed_meanwhile, self._during_refill = self._during_refill, None
        # A full page means more may be due before `bound`; the window then ends at the
        # last loaded due time and is refilled after a firing makes room.
        self._window_truncated = len(due) >= limit
        self._index.load(due, due[-1].due_ms if self._window_truncated else bound)
        # The query may have read rows from before commits that landed while it ran; replay
        # those commits so a reminder already deleted or moved is not fired from the snapshot.
        for changes in committed_meanwhile:
            self._on_commit(changes)
        if self._reload_after_refill:
            self._reload_after_refill = False
            self._index.window_end = 0
            self._window_truncated = False

    def _on_commit(self, changes: Changes) -> None:
        """Keep the in-memory window in step with what turns committed."""
        if self._during_refill is not None:
            self._during_refill.append(changes)
        if self._index.apply(changes):
            self._wake.set()

    def _on_reset(self, ref: ActorRef) -> None:
        """A failed turn dropped the actor's memory: its parked reminders must fire again."""
        if self._index.release_parked(ref):
            self._wake.set()

    def _holds_parked(self, ref: ActorRef) -> bool:
        """True while ``ref`` has work out with a worker (a parked reminder): the runtime
        keeps it active, since its answer is matched against the actor's memory and the
        parked reminder would not fire again to redo the work (engine.md §7 hazard 21)."""
        return self._index.holds_parked(ref)

    def _seconds_until_next(self, now: int) -> float | None:
        earliest = self._index.earliest_due()
        candidates = [] if self._window_truncated else [self._index.window_end]
        if earliest is not None and len(self._inflight) < self._settings.max_concurrent:
            candidates.append(earliest)
        if not candidates:
            return None
        return max(min(candidates) - now, 0) / 1000

    # -- firing ------------------------------------------------------------------------

    def _launch_due(self, now: int, firings: asyncio.TaskGroup) -> None:
        while len(self._inflight) < self._settings.max_concurrent:
            reminder = self._index.pop_due(now)
            if reminder is None:
                return
            key = (reminder.ref, reminder.name)
            if key in self._inflight or self._index.is_parked(key):
                continue  # its firing's outcome (or un-parking) will re-index it
            if self._owns is not None and not self._owns(reminder.ref):
                continue  # another daemon's to fire; a reload brings it back if ours again
            self._inflight.add(key)
            firings.create_task(self._fire(reminder))

    async def _fire(self, reminder: Reminder) -> None:
        key = (reminder.ref, reminder.name)
        try:
            await self._runtime.turn(reminder.ref, self._firing_body(reminder))
            self.fired += 1
        except ShuttingDownError:
            pass  # the row stays; it fires after the restart
        except Exception:
            logger.warning("reminder %s on %s failed; backing off", reminder.name,
                           reminder.ref, exc_info=True)
            await self._commit_retry(reminder)
        finally:
            self._inflight.discard(key)
            if self._window_truncated:
                self._window_truncated = False  # room was made: refill the window
            self._wake.set()

    def _firing_body(
        self, reminder: Reminder
    ) -> Callable[[Actor, TurnContext], Awaitable[None]]:
        async def body(actor: Actor, ctx: TurnContext) -> None:
            result = await actor.on_reminder(ctx, reminder.name, reminder.data)
            if ctx.touched_reminder(reminder.ref, reminder.name):
                return  # the turn set or deleted this reminder itself; that wins
            if result is ReminderResult.PARK:
                self._index.park((reminder.ref, reminder.name))
                return
            self._outcome(ctx.changes, reminder, result, ctx.now_ms)

        return body

    def _outcome(
        self, changes: Changes, reminder: Reminder, result: ReminderResult, now: int
    ) -> None:
        if result is ReminderResult.RETRY:
            due = now + retry_delay_ms(reminder.attempts, self._settings)
            changes.reschedule_reminder(reminder.ref, reminder.name, if_etag=reminder.etag,
                                        due_ms=due, attempts=reminder.attempts + 1)
        elif reminder.period_ms:
            changes.reschedule_reminder(reminder.ref, reminder.name, if_etag=reminder.etag,
                                        due_ms=next_period_due(reminder, now), attempts=0)
        else:
            changes.delete_reminder(reminder.ref, reminder.name, if_etag=reminder.etag)

    async def _commit_retry(self, reminder: Reminder) -> None:
        changes = Changes()
        self._outcome(changes, reminder, ReminderResult.RETRY, self._clock.now_ms())
        try:
            await self._store.commit(changes)
        except StoreError:
            logger.warning("could not persist the backoff of reminder %s on %s",
                           reminder.name, reminder.ref, exc_info=True)
            # Keep it out of the hot path anyway: back off in memory only.
        self._on_commit(changes)
