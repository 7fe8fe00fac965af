"""ReminderIndex: the scheduler's in-memory view of the reminders due within its window.

It holds every reminder due before ``window_end`` (a copy of the stored rows), a heap of
them by due time, and the keys parked by their actors. It does no I/O and knows nothing of
firing: the ``ReminderScheduler`` loads it from the store, keeps it in step with committed
``Changes`` through ``apply``, and takes due reminders from it.

The heap is never searched: an entry that a later commit deleted, moved or replaced stays
in it and is recognised as stale (its due time or etag no longer match ``_known``) when it
reaches the top, which keeps every update O(log n).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import replace

from wfsidecar.store.base import (
    Changes,
    DeleteActor,
    DeleteReminder,
    Reminder,
    RescheduleReminder,
    SetReminder,
)
from wfsidecar.types import ActorRef

ReminderKey = tuple[ActorRef, str]
_Entry = tuple[int, int, ActorRef, str, int]  # due_ms, seq (tie-break), ref, name, etag


class ReminderIndex:
    """The reminders due before ``window_end``, ordered by due time, and the parked ones."""

    def __init__(self) -> None:
        self._known: dict[ReminderKey, Reminder] = {}  # every reminder due before window_end
        self._by_ref: dict[ActorRef, set[str]] = {}
        self._heap: list[_Entry] = []
        self._seq = 0
        self._parked: set[ReminderKey] = set()
        self._parked_per_ref: Counter[ActorRef] = Counter()
        self.window_end = 0
        """Reminders due at or after this are not held; 0 forces the next refill."""

    def load(self, due: Iterable[Reminder], window_end: int) -> None:
        """Replace the window's contents with ``due`` (parked keys are kept)."""
        self._known.clear()
        self._by_ref.clear()
        self._heap.clear()
        for reminder in due:
            self._remember(reminder)
        self.window_end = window_end

    # -- committed changes -------------------------------------------------------------

    def apply(self, changes: Changes) -> bool:
        """Bring the window in step with a commit; True if the commit set a reminder that
        is now the earliest due, so the timer must wake to re-plan its sleep."""
        earliest: int | None = None
        for op in changes:
            if isinstance(op, SetReminder):
                reminder = op.reminder
                self._forget((reminder.ref, reminder.name))
                self.unpark((reminder.ref, reminder.name))
                if reminder.due_ms < self.window_end:
                    self._remember(reminder)
                    earliest = min(earliest or reminder.due_ms, reminder.due_ms)
            elif isinstance(op, DeleteReminder):
                current = self._known.get((op.ref, op.name))
                if current is not None and op.if_etag in (None, current.etag):
                    self._forget((op.ref, op.name))
                    self.unpark((op.ref, op.name))
            elif isinstance(op, RescheduleReminder):
                current = self._known.get((op.ref, op.name))
                if current is not None and current.etag == op.if_etag:
                    self._forget((op.ref, op.name))
                    if op.due_ms < self.window_end:
                        self._remember(replace(current, due_ms=op.due_ms, attempts=op.attempts))
            elif isinstance(op, DeleteActor):
                for name in list(self._by_ref.get(op.ref, ())):
                    self._forget((op.ref, name))
                    self.unpark((op.ref, name))
        return earliest is not None and (not self._heap or earliest <= self._heap[0][0])

    def _remember(self, reminder: Reminder) -> None:
        key = (reminder.ref, reminder.name)
        self._known[key] = reminder
        self._by_ref.setdefault(reminder.ref, set()).add(reminder.name)
        self._seq += 1
        entry = (reminder.due_ms, self._seq, reminder.ref, reminder.name, reminder.etag)
        heapq.heappush(self._heap, entry)

    def _forget(self, key: ReminderKey) -> None:
        if self._known.pop(key, None) is not None:
            names = self._by_ref.get(key[0])
            if names is not None:
                names.discard(key[1])
                if not names:
                    del self._by_ref[key[0]]

    # -- due reminders -----------------------------------------------------------------

    def earliest_due(self) -> int | None:
        """Due time of the next reminder that could fire (stale and parked heads dropped)."""
        while self._heap and (self._is_stale(self._heap[0]) or
                              (self._heap[0][2], self._heap[0][3]) in self._parked):
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: int) -> Reminder | None:
        """Take the next reminder due by ``now`` off the heap; None when none is due. It
        stays known: its firing's outcome (or un-parking) re-indexes it."""
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if not self._is_stale(entry):
                return self._known[(entry[2], entry[3])]
        return None

    def _is_stale(self, entry: _Entry) -> bool:
        due, _, ref, name, etag = entry
        current = self._known.get((ref, name))
        return current is None or current.etag != etag or current.due_ms != due

    def backlog(self, now: int, late_before: int,
                firing: Collection[ReminderKey]) -> tuple[int, int]:
        """(due, overdue): reminders held that are due by ``now`` and not parked, and of
        those the ones due before ``late_before`` whose firing has not begun."""
        due = overdue = 0
        for key, reminder in self._known.items():
            if reminder.due_ms <= now and key not in self._parked:
                due += 1
                if reminder.due_ms < late_before and key not in firing:
                    overdue += 1
        return due, overdue

    # -- parked reminders --------------------------------------------------------------

    def park(self, key: ReminderKey) -> None:
        """Hold the reminder back until a commit touches it or its actor resets."""
        if key not in self._parked:
            self._parked.add(key)
            self._parked_per_ref[key[0]] += 1

    def unpark(self, key: ReminderKey) -> None:
        if key in self._parked:
            self._parked.discard(key)
            self._parked_per_ref[key[0]] -= 1
            if not self._parked_per_ref[key[0]]:
                del self._parked_per_ref[key[0]]

    def is_parked(self, key: ReminderKey) -> bool:
        return key in self._parked

    @property
    def parked_count(self) -> int:
        return len(self._parked)

    def holds_parked(self, ref: ActorRef) -> bool:
        return ref in self._parked_per_ref

    def release_parked(self, ref: ActorRef) -> bool:
        """Un-park every reminder of ``ref`` and queue the known ones to fire again; True
        if any was queued."""
        if ref not in self._parked_per_ref:
            return False
        queued = False
        for key in [k for k in self._parked if k[0] == ref]:
            self.unpark(key)
            current = self._known.get(key)
            if current is not None:
                self._remember(current)
                queued = True
        return queued
