"""In-memory ``StateStore`` for tests above the store (style.md §3.13).

It passes the same contract suite as the SQLite store, so code tested against it behaves
the same on disk, minus durability. Nothing here awaits: every method completes in one
step of the event loop, which is also what makes each commit atomic for other tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from wfsidecar.errors import StoreUnavailable
from wfsidecar.store._validation import checked_ops
from wfsidecar.store.base import (
    Changes,
    DeleteActor,
    DeleteReminder,
    DeleteState,
    Op,
    PutInstance,
    PutState,
    Reminder,
    RescheduleReminder,
    SetReminder,
)
from wfsidecar.store.instances import (
    InstanceFilter,
    InstancePage,
    InstanceQuery,
    InstanceRow,
    InstanceTotals,
    sort_key,
)
from wfsidecar.telemetry.observer import NULL, Observer
from wfsidecar.types import ActorRef

_State = dict[ActorRef, dict[str, bytes]]
_Reminders = dict[ActorRef, dict[str, Reminder]]
_V = TypeVar("_V")


class MemoryStore:
    """A ``StateStore`` that keeps everything in dicts; for tests, not for production."""

    def __init__(self) -> None:
        self._state: _State = {}
        self._reminders: _Reminders = {}
        self._instances: dict[ActorRef, InstanceRow] = {}
        self._closed = False
        self._observer: Observer = NULL
        #: Caller commits applied so far (tests use it to assert a turn did or did not write).
        self.commits = 0

    def add_recovery_listener(self, listener: Callable[[], None]) -> None:
        pass  # memory never has a write fault to recover from

    def observe(self, observer: Observer) -> None:
        self._observer = observer

    async def load_actor(self, ref: ActorRef) -> dict[str, bytes]:
        self._check_open()
        return dict(self._state.get(ref, {}))

    async def commit(self, changes: Changes) -> None:
        self._check_open()
        ops = checked_ops(changes)
        if not ops:
            return
        began = time.perf_counter()
        self._apply(ops)
        self.commits += 1
        self._observer.commit_finished(time.perf_counter() - began, 1, len(ops), True)

    async def reminders_due_before(self, due_ms: int, limit: int) -> list[Reminder]:
        self._check_open()
        if limit <= 0:
            return []
        due = [r for per_actor in self._reminders.values() for r in per_actor.values()]
        due = [r for r in due if r.due_ms < due_ms]
        # Same order as the SQLite query: due time, then (type, id, name) as the stable
        # tiebreak, so tests see identical results on both stores.
        due.sort(key=lambda r: (r.due_ms, r.ref.type, r.ref.id, r.name))
        return due[:limit]

    async def get_reminder(self, ref: ActorRef, name: str) -> Reminder | None:
        self._check_open()
        return self._reminders.get(ref, {}).get(name)

    async def list_actor_ids(
        self, actor_type: str, *, after: str | None, limit: int
    ) -> list[str]:
        self._check_open()
        ids = sorted(ref.id for ref, state in self._state.items()
                     if ref.type == actor_type and state and (after is None or ref.id > after))
        return ids[:max(limit, 0)]

    async def query_instances(self, query: InstanceQuery) -> InstancePage:
        self._check_open()
        after = query.after()
        rows = sorted((r for r in self._instances.values() if query.filter.matches(r)),
                      key=lambda r: sort_key(r, query.sort), reverse=query.descending)
        if after is not None:
            if query.descending:
                rows = [r for r in rows if sort_key(r, query.sort) < after]
            else:
                rows = [r for r in rows if sort_key(r, query.sort) > after]
        page = rows[:query.limit]
        more = len(rows) > query.limit
        return InstancePage(page, query.cursor_after(page[-1]) if more else None)

    async def count_instances(self, flt: InstanceFilter) -> InstanceTotals:
        self._check_open()
        rows = [row for row in self._instances.values() if flt.matches(row)]
        return InstanceTotals(len(rows), sum(row.stored_bytes for row in rows))

    async def size_bytes(self) -> int:
        return 0  # nothing on disk

    async def compact(self, limit: int) -> int:
        return 0  # one layout only

    async def reclaim_space(self, max_pages: int) -> int:
        return 0

    async def free_bytes(self) -> int:
        return 0

    async def largest_instances(self, limit: int) -> list[InstanceRow]:
        rows = sorted(self._instances.values(), key=lambda r: (-r.stored_bytes, r.instance_id))
        return rows[:max(limit, 0)]

    async def instance_backfill_pending(self) -> bool:
        return False  # a memory store starts empty, so every row was written by a turn

    async def instance_backfill_done(self) -> None:
        pass

    async def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable("the memory store is closed")

    def _apply(self, ops: list[Op]) -> None:
        """Apply ``ops`` to copies of the touched actors, then swap the copies in.

        ``checked_ops`` already refused anything malformed, so an exception here would be
        a bug; the copy-then-swap still guarantees it leaves nothing half applied.
        """
        state: _State = {}
        reminders: _Reminders = {}
        rows: dict[ActorRef, InstanceRow | None] = {}

        def state_of(ref: ActorRef) -> dict[str, bytes]:
            if ref not in state:
                state[ref] = dict(self._state.get(ref, {}))
            return state[ref]

        def reminders_of(ref: ActorRef) -> dict[str, Reminder]:
            if ref not in reminders:
                reminders[ref] = dict(self._reminders.get(ref, {}))
            return reminders[ref]

        for op in ops:
            if isinstance(op, PutState):
                state_of(op.ref)[op.key] = op.value
            elif isinstance(op, DeleteState):
                state_of(op.ref).pop(op.key, None)
            elif isinstance(op, DeleteActor):
                state_of(op.ref).clear()
                reminders_of(op.ref).clear()
                rows[op.ref] = None
            elif isinstance(op, PutInstance):
                rows[op.ref] = op.row
            elif isinstance(op, SetReminder):
                reminders_of(op.reminder.ref)[op.reminder.name] = op.reminder
            elif isinstance(op, DeleteReminder):
                per_actor = reminders_of(op.ref)
                current = per_actor.get(op.name)
                if current is not None and op.if_etag in (None, current.etag):
                    del per_actor[op.name]
            elif isinstance(op, RescheduleReminder):
                per_actor = reminders_of(op.ref)
                current = per_actor.get(op.name)
                if current is not None and current.etag == op.if_etag:
                    per_actor[op.name] = Reminder(
                        current.ref,
                        current.name,
                        op.due_ms,
                        current.period_ms,
                        current.data,
                        op.attempts,
                        current.etag,
                    )
        # Empty actors are dropped, like the SQLite store drops their ``actors`` row.
        _swap_in(self._state, state)
        _swap_in(self._reminders, reminders)
        for ref, row in rows.items():
            if row is None:
                self._instances.pop(ref, None)
            else:
                self._instances[ref] = row


def _swap_in(target: dict[ActorRef, dict[str, _V]], staged: dict[ActorRef, dict[str, _V]]) -> None:
    for ref, values in staged.items():
        if values:
            target[ref] = values
        else:
            target.pop(ref, None)
